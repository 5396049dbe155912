"""Assembling a USB "keyboard wedge" reader's key presses into a card UID.

A wedge types the UID and presses Enter. Two conventions are common:

* hex: 8, 14 or 20 hex digits for a 4-, 7- or 10-byte UID, in UID byte order;
* decimal: the 4-byte UID as an unsigned 32-bit number, zero-padded to 10 digits.
  Most 13.56 MHz wedges read the UID as a little-endian number (the first UID
  byte is the least significant): UID 04 A2 24 3B is typed as 0992256516 =
  0x3B24A204. Some read it big-endian (0077734971 = 0x04A2243B); set
  `decimal_byte_order="big"` for those.

With `uid_format="auto"` (the default) a 10-digit line is decimal and an 8, 14 or
20 character hex line is hex. `"decimal"` also accepts unpadded numbers
(1 to 10 digits); `"hex"` never treats a line as decimal. Spaces, dashes and
colons between digits are ignored; any other key spoils the line.
"""

from __future__ import annotations

import logging
from typing import Literal

from evdev import InputEvent, ecodes

log = logging.getLogger(__name__)

UidFormat = Literal["auto", "hex", "decimal"]
ByteOrder = Literal["little", "big"]

_CHARS: dict[int, str] = {getattr(ecodes, f"KEY_{c}"): c for c in "0123456789ABCDEF"}
_CHARS.update({getattr(ecodes, f"KEY_KP{d}"): d for d in "0123456789"})
_ENTER = {ecodes.KEY_ENTER, ecodes.KEY_KPENTER}
_IGNORED = {ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT, ecodes.KEY_CAPSLOCK, ecodes.KEY_NUMLOCK,
            ecodes.KEY_SPACE, ecodes.KEY_MINUS, ecodes.KEY_KPMINUS, ecodes.KEY_SEMICOLON}
_HEX_LENGTHS = (8, 14, 20)
KEY_DOWN = 1


def line_to_uid(line: str, uid_format: UidFormat = "auto",
                decimal_byte_order: ByteOrder = "little") -> str | None:
    """Turn one typed line into an upper-case hex UID, or None if it is not one."""
    is_digits = line.isdigit()
    if uid_format == "decimal" or (uid_format == "auto" and is_digits and len(line) == 10):
        if not is_digits or len(line) > 10:
            return None
        number = int(line)
        if number >= 1 << 32:
            return None
        return number.to_bytes(4, decimal_byte_order).hex().upper()
    if len(line) in _HEX_LENGTHS and all(c in "0123456789ABCDEF" for c in line):
        return line
    return None


class WedgeDecoder:
    """Feed it evdev events; it returns a UID when a complete line arrives.

    Key presses more than `key_gap_s` apart start a new line: a wedge types a
    whole UID in a few tens of milliseconds, so a stale fragment is dropped.
    """

    def __init__(self, uid_format: UidFormat = "auto", decimal_byte_order: ByteOrder = "little",
                 key_gap_s: float = 0.5) -> None:
        if uid_format not in ("auto", "hex", "decimal"):
            raise ValueError(f"uid_format must be auto, hex or decimal, not {uid_format!r}")
        if decimal_byte_order not in ("little", "big"):
            raise ValueError(f"decimal_byte_order must be little or big, not {decimal_byte_order!r}")
        self.uid_format, self.decimal_byte_order, self.key_gap_s = uid_format, decimal_byte_order, key_gap_s
        self._chars: list[str] = []
        self._spoiled = False
        self._last_key_at: float | None = None

    def feed(self, event: InputEvent) -> str | None:
        if event.type != ecodes.EV_KEY or event.value != KEY_DOWN:
            return None  # key-ups, autorepeat, SYN and MSC scan codes
        at = event.timestamp()
        if self._last_key_at is not None and at - self._last_key_at > self.key_gap_s:
            self._reset()
        self._last_key_at = at
        code = event.code
        if code in _ENTER:
            line, spoiled = "".join(self._chars), self._spoiled
            self._reset()
            if spoiled or not line:
                log.debug("wedge line discarded (%d characters)", len(line))
                return None
            uid = line_to_uid(line, self.uid_format, self.decimal_byte_order)
            if uid is None:
                log.debug("wedge line of %d characters is not a UID", len(line))
            return uid
        if code in _CHARS:
            self._chars.append(_CHARS[code])
        elif code not in _IGNORED:
            self._spoiled = True
        return None

    def _reset(self) -> None:
        self._chars, self._spoiled = [], False
