"""A file-backed ESC/POS thermal printer, and a decoder that previews what it printed.

:class:`SimulatedPrinter` is a python-escpos connection, like ``Serial`` or
``Network``: the real driver code talks to it unchanged. Every byte the printer
accepts is appended to a file, in order. It answers DLE EOT status queries
from its state (paper ok / near end / out, cover open, offline); that state
lives in a small JSON file beside the stream so that another process (the demo
control, a test) can pull the paper out.

Behaviour by state:

- ``offline``: the printer is unreachable. Opening fails with
  ``DeviceNotFoundError``, writes fail with ``ConnectionError``, queries get
  no answer.
- paper ``out`` or cover open: status queries are answered; print data is
  not printed (not written to the file) and is counted in ``dropped_bytes``.
- otherwise everything received is written to the file.

A status query is recognised when a write consists only of ``DLE EOT n``
commands, which is how python-escpos and :mod:`drivers.printer.status` send them.

:func:`parse_stream` decodes the byte stream command by command (so image data
is never mistaken for commands) and :func:`render_pages` turns its raster image
commands (``GS v 0``) into one picture per cut, so tests look at the real bytes.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from escpos.escpos import Escpos
from escpos.exceptions import DeviceNotFoundError
from PIL import Image

log = logging.getLogger(__name__)

ESC, GS, DLE, FS = 0x1B, 0x1D, 0x10, 0x1C
LINE_FEED_DOTS = 30  # preview height of one ESC d / LF line


class SimPaper(str, enum.Enum):
    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"


@dataclass(frozen=True)
class PrinterSimState:
    paper: SimPaper = SimPaper.OK
    cover_open: bool = False
    offline: bool = False

    @classmethod
    def load(cls, path: Path) -> PrinterSimState:
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        return cls(SimPaper(raw.get("paper", "ok")), bool(raw.get("cover_open", False)),
                   bool(raw.get("offline", False)))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({**asdict(self), "paper": self.paper.value}))
        os.replace(tmp, path)  # a reader never sees half a file

    def status_bytes(self, n: int) -> bytes:
        """The answer to ``DLE EOT n`` (bits as in the ESC/POS reference)."""
        paper_out = self.paper is SimPaper.OUT
        if n == 1:    # printer status: bit 3 offline
            value = 0x12 | (0x08 if paper_out or self.cover_open else 0)
        elif n == 2:  # offline cause: bit 2 cover open, bit 5 stopped at paper end
            value = 0x12 | (0x04 if self.cover_open else 0) | (0x20 if paper_out else 0)
        elif n == 3:  # error cause: none simulated
            value = 0x12
        elif n == 4:  # paper roll sensor: bits 2-3 near end, bits 5-6 end
            value = 0x12 | (0x0C if self.paper is not SimPaper.OK else 0) \
                | (0x60 if paper_out else 0)
        else:
            return b""
        return bytes((value,))


class SimulatedPrinter(Escpos):
    """An ESC/POS printer whose paper is the file at *path*.

    :param state_path: where the simulated state is kept
        (default: ``<path>.state.json``).
    """

    def __init__(self, path: str | os.PathLike[str], *,
                 state_path: str | os.PathLike[str] | None = None, **kwargs: Any) -> None:
        Escpos.__init__(self, **kwargs)
        self.path = Path(path)
        self.state_path = Path(state_path) if state_path else \
            self.path.with_name(self.path.name + ".state.json")
        self.dropped_bytes = 0
        self._replies = bytearray()
        self._device = False

    # -- state ------------------------------------------------------------------
    @property
    def state(self) -> PrinterSimState:
        return PrinterSimState.load(self.state_path)

    def set_state(self, *, paper: SimPaper | str | None = None, cover_open: bool | None = None,
                  offline: bool | None = None) -> PrinterSimState:
        """Change some of the simulated state; returns the new state."""
        changes: dict[str, Any] = {}
        if paper is not None:
            changes["paper"] = SimPaper(paper)
        if cover_open is not None:
            changes["cover_open"] = cover_open
        if offline is not None:
            changes["offline"] = offline
        new = replace(self.state, **changes)
        new.save(self.state_path)
        return new

    # -- python-escpos connection ------------------------------------------------
    def open(self, raise_not_found: bool = True) -> None:
        if self._device:
            self.close()
        if self.state.offline:
            self._device = None
            if raise_not_found:
                raise DeviceNotFoundError(f"simulated printer {self.path.name} is offline")
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._device = open(self.path, "ab")

    def close(self) -> None:
        if self._device:
            self._device.close()
        self._device = False
        self._replies.clear()

    def _raw(self, msg: bytes) -> None:
        state = self.state
        if state.offline:
            self.close()
            raise ConnectionError(f"simulated printer {self.path.name} is offline")
        device = self.device
        if device is None:
            raise ConnectionError(f"simulated printer {self.path.name} is not open")
        queries = _realtime_queries(msg)
        if queries is not None:
            for n in queries:
                self._replies += state.status_bytes(n)
        elif state.paper is SimPaper.OUT or state.cover_open:
            self.dropped_bytes += len(msg)
            log.info("simulated printer %s: %d bytes not printed (%s)", self.path.name,
                     len(msg), "cover open" if state.cover_open else "out of paper")
            return
        device.write(msg)
        device.flush()

    def _read(self) -> bytes:
        if self.state.offline:
            return b""
        reply, self._replies = bytes(self._replies), bytearray()
        return reply

    # -- what was printed ---------------------------------------------------------
    def printed_bytes(self) -> bytes:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return b""

    def preview_pages(self) -> list[Image.Image]:
        return render_pages(self.printed_bytes())

    def save_preview(self, png_path: str | os.PathLike[str], page: int = -1) -> Path:
        """Write one printed page (default: the last) as a PNG."""
        pages = self.preview_pages()
        if not pages:
            raise ValueError("nothing has been printed")
        target = Path(png_path)
        pages[page].save(target)
        return target


def _realtime_queries(msg: bytes) -> list[int] | None:
    if not msg or len(msg) % 3:
        return None
    queries = []
    for i in range(0, len(msg), 3):
        if msg[i] != DLE or msg[i + 1] != 0x04:
            return None
        queries.append(msg[i + 2])
    return queries


# -- decoding the stream ---------------------------------------------------------------
class EscposDecodeError(ValueError):
    """The stream holds a command this decoder does not know, or is cut short."""


@dataclass(frozen=True)
class RasterImage:
    """A ``GS v 0`` raster bit image as sent."""

    mode: int
    width_bytes: int
    height: int
    data: bytes

    def to_image(self) -> Image.Image:
        """Mode "1" picture, black where a dot is printed, scaled for double width/height."""
        img = Image.frombytes("1", (self.width_bytes * 8, self.height), self.data, "raw", "1;I")
        sx, sy = (2 if self.mode & 1 else 1), (2 if self.mode & 2 else 1)
        if sx > 1 or sy > 1:
            img = img.resize((img.width * sx, img.height * sy), Image.Resampling.NEAREST)
        return img


@dataclass(frozen=True)
class EscposOp:
    offset: int
    name: str                          # init, feed_lines, feed_dots, raster, cut, status, text, set
    raw: bytes
    args: tuple[int, ...] = ()
    raster: RasterImage | None = field(default=None, repr=False)


# Commands with a fixed number of parameter bytes after ESC x / GS x.
_ESC_FIXED = {b"@": 0, b"2": 0, b"d": 1, b"J": 1, b"a": 1, b"E": 1, b"G": 1, b"-": 1,
              b"M": 1, b"t": 1, b"!": 1, b"3": 1, b"R": 1, b"V": 1, b"{": 1, b"r": 1,
              b"=": 1, b"c": 2, b"p": 3, b"B": 2, b"$": 2}
_GS_FIXED = {b"!": 1, b"B": 1, b"H": 1, b"f": 1, b"h": 1, b"w": 1, b"a": 1, b"b": 1,
             b"L": 2, b"W": 2, b"P": 2}
_ESC_NAMES = {b"@": "init", b"d": "feed_lines", b"J": "feed_dots"}


def parse_stream(data: bytes) -> list[EscposOp]:
    """Split an ESC/POS byte stream into commands. Raises :class:`EscposDecodeError`."""
    ops: list[EscposOp] = []
    i, text_start = 0, None
    while i < len(data):
        b = data[i]
        if b in (ESC, GS, DLE, FS, 0x0A):
            if text_start is not None:
                ops.append(EscposOp(text_start, "text", data[text_start:i]))
                text_start = None
            op = _parse_command(data, i)
            ops.append(op)
            i += len(op.raw)
        else:
            if text_start is None:
                text_start = i
            i += 1
    if text_start is not None:
        ops.append(EscposOp(text_start, "text", data[text_start:]))
    return ops


def _need(data: bytes, start: int, length: int) -> bytes:
    if start + length > len(data):
        raise EscposDecodeError(f"command at byte {start} is cut short")
    return data[start:start + length]


def _parse_command(data: bytes, i: int) -> EscposOp:
    b = data[i]
    if b == 0x0A:
        return EscposOp(i, "feed_lines", data[i:i + 1], (1,))
    code = _need(data, i, 2)[1:2]
    if b == DLE:
        if code in (b"\x04", b"\x05"):
            raw = _need(data, i, 3)
            return EscposOp(i, "status", raw, (raw[2],))
        if code == b"\x14":
            return EscposOp(i, "set", _need(data, i, 5))
    elif b == ESC:
        if code in _ESC_FIXED:
            raw = _need(data, i, 2 + _ESC_FIXED[code])
            return EscposOp(i, _ESC_NAMES.get(code, "set"), raw, tuple(raw[2:]))
        if code == b"*":
            m, nl, nh = _need(data, i, 5)[2:5]
            length = (nl + 256 * nh) * (3 if m in (32, 33) else 1)
            return EscposOp(i, "bit_image", _need(data, i, 5 + length))
    elif b == GS:
        if code == b"v":
            header = _need(data, i, 8)
            if header[2:3] != b"0":
                raise EscposDecodeError(f"unknown GS v command at byte {i}")
            mode, xl, xh, yl, yh = header[3:8]
            width_bytes, height = xl + 256 * xh, yl + 256 * yh
            raw = _need(data, i, 8 + width_bytes * height)
            image = RasterImage(mode, width_bytes, height, raw[8:])
            return EscposOp(i, "raster", raw, (mode, width_bytes, height), image)
        if code == b"V":
            m = _need(data, i, 3)[2]
            raw = _need(data, i, 4 if m in (65, 66, 97, 98, 103, 104) else 3)
            return EscposOp(i, "cut", raw, tuple(raw[2:]))
        if code in _GS_FIXED:
            return EscposOp(i, "set", _need(data, i, 2 + _GS_FIXED[code]))
        if code == b"(":
            pl, ph = _need(data, i, 5)[3:5]
            return EscposOp(i, "set", _need(data, i, 5 + pl + 256 * ph))
    raise EscposDecodeError(f"unknown command {data[i:i + 2].hex()} at byte {i}")


def render_pages(data: bytes) -> list[Image.Image]:
    """What the stream prints, one picture per cut (and one for an uncut tail)."""
    pages: list[list[Image.Image]] = [[]]
    inked: list[bool] = [False]
    for op in parse_stream(data):
        if op.name == "raster":
            pages[-1].append(op.raster.to_image())
            inked[-1] = True
        elif op.name == "feed_lines":
            pages[-1].append(_blank(op.args[0] * LINE_FEED_DOTS))
        elif op.name == "feed_dots":
            pages[-1].append(_blank(op.args[0]))
        elif op.name == "text":
            inked[-1] = True
            log.debug("preview ignores %d bytes of printer-font text", len(op.raw))
        elif op.name == "cut":
            pages.append([])
            inked.append(False)
    return [_stack(parts) for parts, has_ink in zip(pages, inked) if has_ink]


def _blank(height: int) -> Image.Image:
    return Image.new("1", (8, max(height, 0)), 255)


def _stack(parts: list[Image.Image]) -> Image.Image:
    width = max((part.width for part in parts), default=8)
    page = Image.new("1", (width, sum(part.height for part in parts)), 255)
    y = 0
    for part in parts:
        page.paste(part, (0, y))
        y += part.height
    return page


# -- command line: the demo's handle on the simulated printer ------------------------------
def main(argv: list[str] | None = None) -> int:
    """``python -m drivers.printer.sim state|preview ...``"""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m drivers.printer.sim",
                                     description="Control and inspect the simulated printer.")
    commands = parser.add_subparsers(dest="command", required=True)
    state = commands.add_parser("state", help="show or change the printer's state")
    state.add_argument("stream", help="the printer's stream file")
    state.add_argument("--paper", choices=[p.value for p in SimPaper])
    state.add_argument("--cover", choices=["open", "closed"])
    state.add_argument("--offline", action=argparse.BooleanOptionalAction, default=None)
    preview = commands.add_parser("preview", help="write a printed page as PNG")
    preview.add_argument("stream")
    preview.add_argument("png")
    preview.add_argument("--page", type=int, default=-1, help="page number (default: last)")
    args = parser.parse_args(argv)

    printer = SimulatedPrinter(args.stream)
    if args.command == "state":
        cover = None if args.cover is None else args.cover == "open"
        new = printer.set_state(paper=args.paper, cover_open=cover, offline=args.offline)
        print(f"paper={new.paper.value} cover_open={new.cover_open} offline={new.offline}")
        return 0
    try:
        target = printer.save_preview(args.png, page=args.page)
    except (ValueError, IndexError, EscposDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
