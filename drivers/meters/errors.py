"""Frame errors shared by every meter protocol codec.

Every decoder in this package raises only subclasses of :class:`FrameError`, so a
caller (the bus, the installer's decoder CLI) can catch one type and still tell
the kinds apart. Messages are written for an installer holding a hex dump.
"""

from __future__ import annotations


class FrameError(ValueError):
    """A byte string is not a valid frame of the expected protocol."""


class TruncatedFrame(FrameError):
    """The frame is shorter than its header or length field requires."""

    def __init__(self, need: int, have: int) -> None:
        super().__init__(f"truncated: need {need} bytes, have {have}")
        self.need = need
        self.have = have


class BadStartByte(FrameError):
    def __init__(self, offset: int, expected: int, got: int, what: str = "start byte") -> None:
        super().__init__(f"bad {what} at offset {offset}: expected {expected:02X}, got {got:02X}")
        self.offset = offset
        self.expected = expected
        self.got = got


class BadEndByte(FrameError):
    def __init__(self, offset: int, expected: int, got: int) -> None:
        super().__init__(f"bad end byte at offset {offset}: expected {expected:02X}, got {got:02X}")
        self.offset = offset
        self.expected = expected
        self.got = got


class BadLength(FrameError):
    """A length field or the overall length does not fit the protocol."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"bad length: {detail}")


class BadChecksum(FrameError):
    """Sum (DL/T 645, CJ/T 188) or CRC (Modbus) mismatch."""

    kind = "checksum"

    def __init__(self, expected: int, got: int, width: int = 1) -> None:
        digits = 2 * width
        super().__init__(
            f"bad {self.kind}: expected {expected:0{digits}X} got {got:0{digits}X}"
        )
        self.expected = expected
        self.got = got


class BadCrc(BadChecksum):
    """Modbus CRC mismatch; values are shown as the two bytes in wire order."""

    kind = "CRC"

    def __init__(self, expected: int, got: int) -> None:
        super().__init__(expected, got, width=2)


class MalformedFrame(FrameError):
    """The envelope is sound but the content is not (bad BCD, unknown function...)."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"malformed: {detail}")
