"""The CJK font for the keyboard: the Simplified Chinese face out of a Noto CJK collection.

Kivy's SDL2 text provider opens face 0 of a .ttc, which in NotoSansCJK-Regular.ttc is the
Japanese face: Chinese characters would be drawn in Japanese glyph forms (直, 骨, 角 look
different). `cjk_font()` copies the face whose name says "CJK SC" out of the collection
into a standalone .otf in a cache folder once (the tables are copied byte for byte;
about 16 MB, a second or two on a Pi) and returns its path. Anything else (a .ttf/.otf, a
collection without an SC face, an unreadable file) is returned unchanged.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
from pathlib import Path

DEFAULT_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def cache_dir() -> Path:
    base = os.environ.get("LOBBY_FONT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "lobby-kiosk")
    return Path(base)


def _face_names(data: bytes, font_off: int) -> str:
    num_tables = struct.unpack_from(">H", data, font_off + 4)[0]
    for i in range(num_tables):
        tag, _cs, off, length = struct.unpack_from(">4sIII", data, font_off + 12 + 16 * i)
        if tag != b"name":
            continue
        _fmt, count, str_off = struct.unpack_from(">HHH", data, off)
        names = []
        for r in range(count):
            pid, _eid, _lid, nid, ln, so = struct.unpack_from(">HHHHHH", data, off + 6 + 12 * r)
            if nid in (1, 4):
                raw = data[off + str_off + so: off + str_off + so + ln]
                names.append(raw.decode("utf-16-be", "replace") if pid in (0, 3) else raw.decode("latin-1"))
        return " | ".join(names)
    return ""


def _extract(data: bytes, font_off: int) -> bytes:
    sfnt, num_tables = struct.unpack_from(">IH", data, font_off)
    header = bytearray(data[font_off:font_off + 12])
    records = []
    for i in range(num_tables):
        records.append(struct.unpack_from(">4sIII", data, font_off + 12 + 16 * i))
    pos = 12 + 16 * num_tables
    out_records = bytearray()
    blobs = []
    for tag, cs, off, length in records:
        out_records += struct.pack(">4sIII", tag, cs, pos, length)
        blob = data[off:off + length]
        pad = (-length) % 4
        blobs.append(blob + b"\0" * pad)
        pos += length + pad
    return bytes(header) + bytes(out_records) + b"".join(blobs)


def cjk_font(path: str = DEFAULT_FONT, face: str = "CJK SC") -> str:
    """A path Kivy can use that draws Simplified Chinese glyph forms (see module doc)."""
    if not str(path).lower().endswith(".ttc"):
        return str(path)
    try:
        st = os.stat(path)
        tag = hashlib.sha1(f"{path}:{st.st_size}:{st.st_mtime_ns}:{face}".encode()).hexdigest()[:12]
        target = cache_dir() / f"{Path(path).stem}-{face.replace(' ', '')}-{tag}.otf"
        if target.exists():
            return str(target)
        data = Path(path).read_bytes()
        if data[:4] != b"ttcf":
            return str(path)
        n = struct.unpack_from(">I", data, 8)[0]
        offsets = struct.unpack_from(f">{n}I", data, 12)
        for off in offsets:
            names = _face_names(data, off)
            if face in names and "Mono" not in names:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
                with os.fdopen(fd, "wb") as fh:
                    fh.write(_extract(data, off))
                os.chmod(tmp, 0o644)
                os.replace(tmp, target)
                return str(target)
    except (OSError, struct.error):
        pass
    return str(path)
