"""The 68h ... 16h framing that DL/T 645-2007 and CJ/T 188-2004 share: one scanner for both codecs.

Both send ``FE*(0..4) 68 HEADER L DATA CS 16``: up to four FEh wake-up bytes, a 68h
start byte, a fixed header ending in the data length L, the data, a checksum (the
byte sum mod 256 from the 68h to the end of the data) and 16h. They differ in the
header (DL/T 645: six address bytes, a second 68h, the control code; CJ/T 188: the
meter type, seven address bytes, the control code) and in the data limit, which
the codecs (:mod:`drivers.meters.dlt645`, :mod:`drivers.meters.cjt188`) pass in.
"""

from __future__ import annotations

from drivers.meters.errors import BadChecksum, BadEndByte, BadLength, BadStartByte, TruncatedFrame

START = 0x68
END = 0x16
WAKE = 0xFE
MAX_PREAMBLE = 4


class ControlBits:
    """What the control byte means in both protocols: D7 direction (1 = reply), D6 abnormal reply."""

    control: int

    @property
    def is_reply(self) -> bool:
        return bool(self.control & 0x80)

    @property
    def is_abnormal(self) -> bool:
        return bool(self.control & 0x40)


def checksum(data: bytes | bytearray) -> int:
    return sum(data) & 0xFF


def check_preamble(preamble: int) -> None:
    if not 0 <= preamble <= MAX_PREAMBLE:
        raise ValueError("the wake-up preamble is 0 to 4 FE bytes")


def wrap(body: bytes | bytearray, preamble: int) -> bytes:
    """The frame on the wire: *preamble* FE bytes, the body (68h to the end of the data), CS and 16h."""
    return bytes([WAKE]) * preamble + bytes(body) + bytes([checksum(body), END])


def locate(buf: bytes, *, length_at: int, min_frame: int, max_data: int, limit: str,
           second_start: int | None = None) -> tuple[int, int]:
    """Check the frame that starts at ``buf[0]`` (after any FE) and return where its 68h is and where it ends.

    ``length_at`` is the offset of L from the 68h, ``min_frame`` the size of a frame without
    data, ``limit`` how a too-long L is described, ``second_start`` the offset of a second
    68h in the header (DL/T 645). Raises the :mod:`drivers.meters.errors` frame errors.
    """
    i = 0
    while i < len(buf) and buf[i] == WAKE:
        i += 1
    have = len(buf)
    if have < i + 1:
        raise TruncatedFrame(i + min_frame, have)
    if buf[i] != START:
        raise BadStartByte(i, START, buf[i])
    if have < i + length_at + 1:
        raise TruncatedFrame(i + min_frame, have)
    if second_start is not None and buf[i + second_start] != START:
        raise BadStartByte(i + second_start, START, buf[i + second_start], "second start byte")
    length = buf[i + length_at]
    if length > max_data:
        raise BadLength(f"length field L={length} exceeds {limit}")
    total = i + min_frame + length
    if have < total:
        raise TruncatedFrame(total, have)
    if buf[total - 1] != END:
        raise BadEndByte(total - 1, END, buf[total - 1])
    expected = checksum(buf[i : total - 2])
    if buf[total - 2] != expected:
        raise BadChecksum(expected, buf[total - 2])
    return i, total
