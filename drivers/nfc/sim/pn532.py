"""A PN532 NFC controller on a pseudo-terminal, for libnfc's `pn532_uart` driver.

The simulator speaks the PN532 host-controller protocol (HSU framing) well enough
that the real libnfc, and so pynfc and `nfc-list`, find the chip and read the tags
it is told to present. It has three layers:

* the frame codec (`encode_frame`, `decode_frame`), pure functions;
* `PN532Chip`, the command set and the tag in the field, pure logic with no I/O;
* `PN532Simulator`, which owns the pty, paces replies at the serial baud rate and
  exposes `present()`, `remove()`, `status()` and `stop()` to other threads.

Run it as a process with a JSON-lines control socket (see `pn532_control`):

    python -m drivers.nfc.sim.pn532 --link /tmp/nfc0 --control /tmp/nfc0.sock

The gateway and the kiosk start it that way, through `drivers.nfc.sim.launch`.
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import threading
import time
from dataclasses import dataclass
from typing import Callable, Literal

from drivers.sim.pty import PtyEndpoint

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------
# Frame codec
# ---------------------------------------------------------------------------

HOST_TFI = 0xD4  # host -> PN532
CHIP_TFI = 0xD5  # PN532 -> host
ACK_FRAME = bytes.fromhex("0000ff00ff00")
NACK_FRAME = bytes.fromhex("0000ffff0000")
ERROR_FRAME = bytes.fromhex("0000ff01ff7f8100")  # "syntax error" application frame
MAX_BODY = 265  # TFI + 264 data bytes, the PN532's largest extended frame

_START = b"\x00\xff"


class FrameError(ValueError):
    """A malformed frame. Drop `skip` bytes from the buffer to resynchronise."""

    def __init__(self, reason: str, skip: int) -> None:
        super().__init__(reason)
        self.skip = skip


@dataclass(frozen=True)
class Frame:
    kind: Literal["ack", "nack", "info"]
    tfi: int = 0
    payload: bytes = b""  # after the TFI: command code and parameters


def _checksum(data: bytes) -> int:
    return (-sum(data)) & 0xFF


def encode_frame(tfi: int, payload: bytes) -> bytes:
    """Build a normal frame, or an extended one when the body exceeds 255 bytes."""
    body = bytes([tfi]) + payload
    if len(body) > MAX_BODY:
        raise ValueError(f"frame body too long: {len(body)} bytes")
    if len(body) <= 0xFF:
        header = bytes([0x00, 0x00, 0xFF, len(body), _checksum(bytes([len(body)]))])
    else:
        lenm, lenl = len(body) >> 8, len(body) & 0xFF
        header = bytes([0x00, 0x00, 0xFF, 0xFF, 0xFF, lenm, lenl, _checksum(bytes([lenm, lenl]))])
    return header + body + bytes([_checksum(body), 0x00])


def _past_postamble(buf: bytes, at: int) -> int:
    """Where the next frame may start: after the 0x00 postamble at `at`, if it is there."""
    return at + 1 if buf[at:at + 1] == b"\x00" else at


def decode_frame(buf: bytes) -> tuple[Frame | None, int]:
    """Decode the first frame in `buf`.

    Returns `(frame, consumed)`. When no complete frame is there yet, `frame` is
    None and `consumed` counts the leading junk bytes (wake-up 0x55s, zeros) that
    can be dropped. Raises FrameError on a bad length or data checksum. The
    postamble byte is not required: a missing or odd one is junk for the next call.
    """
    start = buf.find(_START)
    if start < 0:
        keep = 1 if buf[-1:] == b"\x00" else 0
        return None, len(buf) - keep
    head = start + 2
    if len(buf) < head + 2:
        return None, start
    first, second = buf[head], buf[head + 1]
    if (first, second) in ((0x00, 0xFF), (0xFF, 0x00)):
        end = head + 2
        return Frame("ack" if first == 0x00 else "nack"), _past_postamble(buf, end)
    if (first, second) == (0xFF, 0xFF):
        if len(buf) < head + 5:
            return None, start
        lenm, lenl, lcs = buf[head + 2], buf[head + 3], buf[head + 4]
        if (lenm + lenl + lcs) & 0xFF:
            raise FrameError("extended length checksum mismatch", head)
        length, body_at = (lenm << 8) | lenl, head + 5
    else:
        if (first + second) & 0xFF:
            raise FrameError("length checksum mismatch", head)
        length, body_at = first, head + 2
    if not 1 <= length <= MAX_BODY:
        raise FrameError(f"impossible frame length {length}", head)
    end = body_at + length
    if len(buf) < end + 1:
        return None, start
    body = bytes(buf[body_at:end])
    if _checksum(body) != buf[end]:
        raise FrameError("data checksum mismatch", end + 1)
    return Frame("info", body[0], body[1:]), _past_postamble(buf, end + 1)


# ---------------------------------------------------------------------------
# Tags
# ---------------------------------------------------------------------------

# PN532 status bytes used here. Bit 0x80 (NAD) and 0x40 (MI) must stay clear:
# libnfc calls abort() when it sees NAD.
ST_OK = 0x00
ST_TIMEOUT = 0x01  # the target did not answer
ST_MIFARE_AUTH = 0x14
ST_NOT_ACCEPTABLE = 0x27  # e.g. no target selected


@dataclass(frozen=True)
class TagModel:
    atqa: bytes
    sak: int
    uid_lengths: tuple[int, ...]
    ats: bytes = b""  # including its length byte TL, as the PN532 reports it
    version: bytes = b""  # GET_VERSION answer of Ultralight EV1/NTAG tags
    pages: int = 0  # NFC Forum Type 2 memory size in 4-byte pages
    user_bytes: int = 0  # the NDEF data area announced in the capability container


def _ntag(size_code: int, pages: int, user_bytes: int) -> TagModel:
    version = bytes([0x00, 0x04, 0x04, 0x02, 0x01, 0x00, size_code, 0x03])
    return TagModel(bytes([0x00, 0x44]), 0x00, (7,), version=version, pages=pages, user_bytes=user_bytes)


TAG_MODELS: dict[str, TagModel] = {
    "classic_1k": TagModel(bytes([0x00, 0x04]), 0x08, (4, 7)),
    "classic_4k": TagModel(bytes([0x00, 0x02]), 0x18, (4, 7)),
    "ultralight": TagModel(bytes([0x00, 0x44]), 0x00, (7,), pages=16, user_bytes=48),
    "ntag213": _ntag(0x0F, 45, 144),
    "ntag215": _ntag(0x11, 135, 504),
    "ntag216": _ntag(0x13, 231, 888),
    "desfire": TagModel(bytes([0x03, 0x44]), 0x20, (7,), ats=bytes.fromhex("067577810280")),
}
TAG_ALIASES = {"ntag": "ntag215", "mifare_classic": "classic_1k", "mifare_ultralight": "ultralight"}


class Tag:
    """One tag in the field: its identity and how it answers raw commands."""

    def __init__(self, uid: bytes | str, tag_type: str = "classic_1k") -> None:
        if isinstance(uid, str):
            uid = bytes.fromhex(uid.replace(":", "").replace(" ", ""))
        name = TAG_ALIASES.get(tag_type, tag_type)
        if name not in TAG_MODELS:
            raise ValueError(f"unknown tag type {tag_type!r}; known: {sorted(TAG_MODELS)}")
        model = TAG_MODELS[name]
        if len(uid) not in model.uid_lengths:
            raise ValueError(f"{name} needs a UID of {model.uid_lengths} bytes, got {len(uid)}")
        if len(uid) == 7 and uid[0] != 0x04 and (model.pages or model.sak & 0x20):
            raise ValueError(f"{name} is an NXP tag: its 7-byte UID starts with 04")
        self.uid, self.type, self.model = bytes(uid), name, model
        self._memory = self._initial_memory() if model.pages else b""

    def _initial_memory(self) -> bytes:
        uid = self.uid
        bcc0 = 0x88 ^ uid[0] ^ uid[1] ^ uid[2]
        bcc1 = uid[3] ^ uid[4] ^ uid[5] ^ uid[6]
        header = uid[:3] + bytes([bcc0]) + uid[3:7] + bytes([bcc1, 0x48, 0x00, 0x00])
        capability = bytes([0xE1, 0x10, self.model.user_bytes // 8, 0x00])
        empty_ndef = bytes([0x03, 0x00, 0xFE, 0x00])
        memory = header + capability + empty_ndef
        return memory + bytes(self.model.pages * 4 - len(memory))

    def target_data(self, with_ats: bool) -> bytes:
        """SENS_RES, SEL_RES, NFCID1 and optional ATS, as in InListPassiveTarget."""
        data = self.model.atqa + bytes([self.model.sak, len(self.uid)]) + self.uid
        return data + (self.model.ats if with_ats else b"")

    def exchange(self, command: bytes, iso_dep: bool) -> tuple[int, bytes]:
        """Answer one command sent over the air: (PN532 status, response bytes).

        `iso_dep` is True for InDataExchange, where the PN532 wraps the command in
        ISO 14443-4 blocks for a -4 card; InCommunicateThru sends it raw.
        """
        if not command:
            return ST_TIMEOUT, b""
        code = command[0]
        if self.model.pages:
            if code == 0x30 and len(command) >= 2:  # READ: four pages, wrapping
                start = command[1] * 4
                if start >= len(self._memory):
                    return ST_TIMEOUT, b""
                doubled = self._memory + self._memory
                return ST_OK, doubled[start:start + 16]
            if code == 0x60 and self.model.version:  # GET_VERSION
                return ST_OK, self.model.version
            return ST_TIMEOUT, b""  # NAK: e.g. the Ultralight C probe 1A 00
        if self.model.sak & 0x08 and code in (0x60, 0x61):  # Classic AUTH: no Crypto1 here
            return ST_MIFARE_AUTH, b""
        if self.model.sak & 0x20:
            if iso_dep:  # DESFire native status: ILLEGAL_COMMAND_CODE
                return ST_OK, bytes([0x1C])
            if code & 0xE6 == 0xA2:  # an ISO 14443-4 R-block (libnfc pings with R(NAK))
                return ST_OK, bytes([0xA2 | (code & 0x01)])  # R(ACK)
        return ST_TIMEOUT, b""

    def describe(self) -> dict[str, str]:
        return {"uid": self.uid.hex().upper(), "type": self.type}


# ---------------------------------------------------------------------------
# The chip
# ---------------------------------------------------------------------------

POLL_PERIOD_S = 0.150  # InAutoPoll's period unit
ACTIVATION_ATTEMPT_S = 0.005  # one passive activation attempt with no tag in the field
PTT_GENERIC_106, PTT_MIFARE, PTT_ISO14443_4A = 0x00, 0x10, 0x20
PARAM_AUTO_RATS = 0x10  # SetParameters flag: send RATS to ISO 14443-4 cards on activation
REG_TX_MODE, TX_FRAMING_MASK = 0x6302, 0x03  # CIU_TxMode framing bits: 00 = ISO 14443A


class _Malformed(Exception):
    """Command parameters the PN532 would reject with a syntax error."""


@dataclass
class Pending:
    """A poll waiting for a tag; `deadline` None means it waits for ever."""

    command: int
    deadline: float | None
    answer: Callable[[], bytes | None]  # the reply once a tag is there, or None
    empty: bytes  # the reply when the deadline passes


class PN532Chip:
    """PN532 command handling. Not thread-safe: the simulator serialises calls."""

    def __init__(self) -> None:
        self.tag: Tag | None = None
        self.selected = False
        self.registers: dict[int, int] = {}
        self.passive_retries = 0xFF
        self.parameters = PARAM_AUTO_RATS
        self.pending: Pending | None = None
        self._handlers: dict[int, Callable[[bytes, float], bytes | Pending | None]] = {
            0x00: self._diagnose, 0x02: self._firmware, 0x04: self._general_status,
            0x06: self._read_register, 0x08: self._write_register, 0x12: self._set_parameters,
            0x14: self._empty, 0x16: self._power_down, 0x32: self._rf_configuration,
            0x40: self._data_exchange, 0x42: self._communicate_thru, 0x44: self._release,
            0x4A: self._list_passive, 0x50: self._select, 0x52: self._release,
            0x60: self._auto_poll,
        }

    # -- the field ---------------------------------------------------------
    def present(self, tag: Tag) -> None:
        if self.tag is None or self.tag.uid != tag.uid:
            self.selected = False
        self.tag = tag

    def remove(self) -> None:
        # The chip still believes its target is selected: exchanges now time out.
        self.tag = None

    # -- commands ------------------------------------------------------------
    def execute(self, payload: bytes, now: float) -> bytes | Pending | None:
        """Run one command. Returns reply data (after D5 CMD+1), a Pending poll, or
        None for an unknown or malformed command (the caller sends an error frame)."""
        self.pending = None  # a new command supersedes an unfinished poll
        handler = self._handlers.get(payload[0]) if payload else None
        if handler is None:
            return None
        try:
            result = handler(payload[1:], now)
        except (IndexError, _Malformed):  # parameters missing or out of range
            return None
        if isinstance(result, Pending):
            answer = result.answer()
            if answer is not None:
                return answer
            self.pending = result
        return result

    def abort(self) -> None:
        """The host sent an ACK: abandon a running poll without replying."""
        self.pending = None

    def resolve_pending(self, now: float) -> tuple[int, bytes] | None:
        """Finish the pending poll if a tag arrived or time ran out."""
        if self.pending is None:
            return None
        pending = self.pending
        answer = pending.answer()
        if answer is None and (pending.deadline is None or now < pending.deadline):
            return None
        self.pending = None
        return pending.command, answer if answer is not None else pending.empty

    @property
    def auto_polling(self) -> bool:
        """An InAutoPoll is running: a tag presented now is found at once."""
        return self.pending is not None and self.pending.command == 0x60

    def pending_timeout(self, now: float) -> float | None:
        if self.pending is None or self.pending.deadline is None:
            return None
        return max(0.0, self.pending.deadline - now)

    # -- handlers ------------------------------------------------------------
    def _empty(self, params: bytes, now: float) -> bytes:
        return b""

    def _diagnose(self, params: bytes, now: float) -> bytes:
        test = params[0]
        if test == 0x00:  # communication line test: echo everything
            return bytes(params)
        if test == 0x06:  # card presence detection
            return bytes([ST_OK if self.selected and self.tag else ST_TIMEOUT])
        return bytes([ST_OK])

    def _firmware(self, params: bytes, now: float) -> bytes:
        return bytes([0x32, 0x01, 0x06, 0x07])  # PN532 v1.6, ISO14443A/B and ISO18092

    def _general_status(self, params: bytes, now: float) -> bytes:
        targets = bytes([1, 0x01, 0x00, 0x00, 0x00]) if self.selected else bytes([0])
        return bytes([ST_OK, 0x01]) + targets + bytes([0x00])

    def _read_register(self, params: bytes, now: float) -> bytes:
        addresses = [(params[i] << 8) | params[i + 1] for i in range(0, len(params) - 1, 2)]
        return bytes(self.registers.get(address, 0x00) for address in addresses)

    def _write_register(self, params: bytes, now: float) -> bytes:
        for i in range(0, len(params) - 2, 3):
            self.registers[(params[i] << 8) | params[i + 1]] = params[i + 2]
        return b""

    def _set_parameters(self, params: bytes, now: float) -> bytes:
        self.parameters = params[0]
        return b""

    def _power_down(self, params: bytes, now: float) -> bytes:
        return bytes([ST_OK])

    def _rf_configuration(self, params: bytes, now: float) -> bytes:
        item = params[0]
        if item == 0x01 and not params[1] & 0x01:  # RF field off releases the target
            self.selected = False
        elif item == 0x05:  # MaxRetries: MxRtyATR, MxRtyPSL, MxRtyPassiveActivation
            self.passive_retries = params[3]
        return b""

    def _exchange(self, data: bytes, iso_dep: bool) -> bytes:
        if self.tag is None:
            return bytes([ST_TIMEOUT])
        if self.registers.get(REG_TX_MODE, 0x00) & TX_FRAMING_MASK:
            return bytes([ST_TIMEOUT])  # framed as type B/FeliCa: a type A tag stays silent
        status, answer = self.tag.exchange(data, iso_dep)
        return bytes([status]) + answer

    def _data_exchange(self, params: bytes, now: float) -> bytes:
        if params[0] != 0x01 or not self.selected:
            return bytes([ST_NOT_ACCEPTABLE])
        return self._exchange(params[1:], iso_dep=True)

    def _communicate_thru(self, params: bytes, now: float) -> bytes:
        return self._exchange(params, iso_dep=False)

    def _release(self, params: bytes, now: float) -> bytes:
        self.selected = False
        return bytes([ST_OK])

    def _select(self, params: bytes, now: float) -> bytes:
        self.selected = self.tag is not None
        return bytes([ST_OK if self.selected else ST_NOT_ACCEPTABLE])

    @staticmethod
    def _strip_cascade(uid: bytes) -> bytes:
        """libnfc sends a 7- or 10-byte UID with its cascade tags (0x88) inserted."""
        if len(uid) == 8 and uid[0] == 0x88:
            return uid[1:]
        if len(uid) == 12 and uid[0] == 0x88 and uid[4] == 0x88:
            return uid[1:4] + uid[5:]
        return uid

    def _activate(self, wanted_uid: bytes = b"") -> Tag | None:
        tag = self.tag
        if tag is None or (wanted_uid and tag.uid != wanted_uid):
            return None
        self.selected = True
        return tag

    def _list_passive(self, params: bytes, now: float) -> Pending:
        max_targets, modulation = params[0], params[1]
        initiator_data = self._strip_cascade(bytes(params[2:]))
        if max_targets not in (1, 2):
            raise _Malformed("MaxTg out of range")

        def answer() -> bytes | None:
            tag = self._activate(initiator_data) if modulation == 0x00 else None
            if tag is None:
                return None
            auto_rats = bool(self.parameters & PARAM_AUTO_RATS)
            return bytes([1, 1]) + tag.target_data(with_ats=auto_rats and bool(tag.model.sak & 0x20))

        if self.passive_retries == 0xFF:
            deadline = None
        else:
            deadline = now + (self.passive_retries + 1) * ACTIVATION_ATTEMPT_S
        return Pending(0x4A, deadline, answer, bytes([0]))

    def _auto_poll(self, params: bytes, now: float) -> Pending:
        poll_nr, period, types = params[0], params[1], bytes(params[2:])
        if not types or period == 0:
            raise _Malformed("no target types")

        def answer() -> bytes | None:
            tag = self._activate()
            if tag is None:
                return None
            is_iso4 = bool(tag.model.sak & 0x20)
            for ptt in types:
                if ptt == PTT_ISO14443_4A and is_iso4:
                    data = bytes([1]) + tag.target_data(with_ats=True)
                elif ptt in (PTT_MIFARE, PTT_GENERIC_106):
                    data = bytes([1]) + tag.target_data(with_ats=False)
                else:
                    continue
                return bytes([1, ptt, len(data)]) + data
            self.selected = False
            return None

        deadline = None if poll_nr == 0xFF else now + poll_nr * period * POLL_PERIOD_S * len(types)
        return Pending(0x60, deadline, answer, bytes([0]))


# ---------------------------------------------------------------------------
# The simulator: pty I/O, pacing, thread-safe control
# ---------------------------------------------------------------------------

class PN532Simulator:
    """A PN532 behind a pty symlink. `start()` it, then point libnfc at `link`."""

    def __init__(self, link: str | os.PathLike[str], *, baud: int = 115200, pace: bool = True) -> None:
        self._endpoint = PtyEndpoint(link)
        self.link = str(self._endpoint.link)
        self.baud = baud
        self.pace = pace
        self._chip = PN532Chip()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._last_reply = b""
        self.frames_in = 0
        self._thread = threading.Thread(target=self._run, name="pn532-sim", daemon=True)

    # -- control API (any thread) ------------------------------------------
    def start(self) -> "PN532Simulator":
        self._thread.start()
        return self

    def present(self, uid: bytes | str, tag_type: str = "classic_1k") -> None:
        """Put a tag in the field (replacing any other)."""
        tag = Tag(uid, tag_type)
        with self._lock:
            self._chip.present(tag)
        log.debug("tag presented: %s (%d-byte UID)", tag.type, len(tag.uid))
        self._wake()

    def remove(self) -> None:
        with self._lock:
            self._chip.remove()
        self._wake()

    def status(self) -> dict[str, object]:
        with self._lock:
            tag = self._chip.tag
            return {"link": self.link, "tag": tag.describe() if tag else None,
                    "selected": self._chip.selected, "polling": self._chip.auto_polling,
                    "frames": self.frames_in}

    def stop(self) -> None:
        self._stopping.set()
        self._wake()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)
        self._endpoint.close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> "PN532Simulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the loop ------------------------------------------------------------
    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:  # stopped already
            pass

    def _run(self) -> None:
        master = self._endpoint.fileno()
        buf = bytearray()
        while not self._stopping.is_set():
            with self._lock:
                timeout = self._chip.pending_timeout(time.monotonic())
            try:
                readable, _, _ = select.select([master, self._wake_r], [], [], timeout)
            except (OSError, ValueError):
                break
            if self._wake_r in readable:
                os.read(self._wake_r, 4096)
            if master in readable:
                try:
                    buf += os.read(master, 4096)
                except OSError:  # no client has the slave open: nothing to read
                    time.sleep(0.01)
                    continue
                self._consume(buf)
            with self._lock:
                finished = self._chip.resolve_pending(time.monotonic())
            if finished is not None:
                self._reply(*finished)

    def _consume(self, buf: bytearray) -> None:
        while buf:
            try:
                frame, consumed = decode_frame(bytes(buf))
            except FrameError as exc:
                log.debug("dropping bad frame: %s", exc)
                del buf[:exc.skip]
                continue
            del buf[:consumed]
            if frame is None:
                return
            self._handle(frame)

    def _handle(self, frame: Frame) -> None:
        self.frames_in += 1
        if frame.kind == "ack":
            with self._lock:
                self._chip.abort()
            return
        if frame.kind == "nack":
            if self._last_reply:
                self._write(self._last_reply)
            return
        if frame.tfi != HOST_TFI or not frame.payload:
            self._write(ERROR_FRAME)
            return
        self._sleep_bytes(len(frame.payload) + 9)  # the command's own time on the wire
        self._write(ACK_FRAME)
        with self._lock:
            result = self._chip.execute(frame.payload, time.monotonic())
        if result is None:
            self._write(ERROR_FRAME)
        elif not isinstance(result, Pending):
            self._reply(frame.payload[0], result)

    def _reply(self, command: int, data: bytes) -> None:
        self._last_reply = encode_frame(CHIP_TFI, bytes([command + 1]) + data)
        self._write(self._last_reply)

    def _sleep_bytes(self, count: int) -> None:
        if self.pace:
            time.sleep(count * 10 / self.baud)  # 8N1: ten bits a byte

    def _write(self, data: bytes) -> None:
        self._sleep_bytes(len(data))
        try:
            os.write(self._endpoint.fileno(), data)
        except OSError as exc:
            log.debug("pty write failed: %s", exc)


def main(argv: list[str] | None = None) -> int:
    from drivers.nfc.sim.pn532_control import ControlServer
    from drivers.sim.child import block_stop_signals, die_with_parent, wait_for_stop

    parser = argparse.ArgumentParser(description="PN532 simulator on a pseudo-terminal")
    parser.add_argument("--link", required=True, help="symlink to create for the pty slave")
    parser.add_argument("--control", help="Unix socket for the JSON-lines control API")
    parser.add_argument("--baud", type=int, default=115200, help="pace replies at this rate")
    parser.add_argument("--no-pace", action="store_true", help="reply as fast as the pty allows")
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--parent", type=int, metavar="PID",
                        help="stop when this process (the one that started the simulator) ends")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(name)s: %(message)s")

    block_stop_signals()  # before any thread starts (drivers/sim/child.py says why)
    if args.parent is not None and not die_with_parent(args.parent):
        return 0  # the parent is gone already
    sim = PN532Simulator(args.link, baud=args.baud, pace=not args.no_pace).start()
    server = ControlServer(sim, args.control).start() if args.control else None
    try:
        print(f"pn532-sim ready link={sim.link} control={args.control or '-'}", flush=True)
        wait_for_stop()
    except BrokenPipeError:  # whoever started us has gone before reading the ready line
        pass
    finally:
        if server:
            server.stop()
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
