"""ESC/POS real-time status (DLE EOT n) read through a python-escpos connection.

One write carries three queries (printer status, offline cause, paper sensor)
and the printer answers one byte to each. The bit meanings are those of the
ESC/POS command reference; python-escpos's own ``is_online()`` and
``paper_status()`` decode the same bytes but not the cover switch, which is
why the bytes are decoded here.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from escpos.constants import RT_STATUS, RT_STATUS_ONLINE, RT_STATUS_PAPER
from escpos.escpos import Escpos

from drivers.health import HealthState

log = logging.getLogger(__name__)

RT_STATUS_OFFLINE_CAUSE = RT_STATUS + b"\x02"
STATUS_QUERY = RT_STATUS_ONLINE + RT_STATUS_OFFLINE_CAUSE + RT_STATUS_PAPER

_FIXED_MASK, _FIXED_BITS = 0x93, 0x12   # bits 0, 1, 4, 7 are fixed in every status byte
_OFFLINE = 0x08                         # n=1 bit 3
_COVER_OPEN = 0x04                      # n=2 bit 2
_PAPER_STOP = 0x20                      # n=2 bit 5: printing stopped at paper end
_ERROR = 0x40                           # n=2 bit 6
_NEAR_END = 0x0C                        # n=4 bits 2-3
_PAPER_END = 0x60                       # n=4 bits 5-6


class PaperState(str, enum.Enum):
    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer said about itself. ``answered`` is False when it said nothing."""

    answered: bool
    online: bool = True
    paper: PaperState = PaperState.UNKNOWN
    cover_open: bool = False
    error: bool = False

    @property
    def can_print(self) -> bool:
        return self.answered and self.online and self.paper is not PaperState.OUT \
            and not self.cover_open

    def health(self) -> tuple[HealthState, str]:
        if not self.answered:
            return HealthState.LOST, "printer not answering"
        if self.paper is PaperState.OUT:
            return HealthState.DEGRADED, "out of paper"
        if self.cover_open:
            return HealthState.DEGRADED, "cover open"
        if self.error or not self.online:
            return HealthState.DEGRADED, "printer offline (error)"
        if self.paper is PaperState.NEAR_END:
            return HealthState.DEGRADED, "paper low"
        return HealthState.OK, ""


NO_ANSWER = PrinterStatus(answered=False, online=False)


def decode_status(reply: bytes) -> PrinterStatus:
    """Decode the three answer bytes to :data:`STATUS_QUERY`."""
    if len(reply) < 3:
        return NO_ANSWER
    if any(b & _FIXED_MASK != _FIXED_BITS for b in reply[:3]):
        log.warning("printer status reply is not ESC/POS status bytes: %s", reply[:16].hex())
        return NO_ANSWER
    printer, cause, paper = reply[:3]
    if paper & _PAPER_END or cause & _PAPER_STOP:
        paper_state = PaperState.OUT
    elif paper & _NEAR_END:
        paper_state = PaperState.NEAR_END
    else:
        paper_state = PaperState.OK
    return PrinterStatus(answered=True, online=not printer & _OFFLINE, paper=paper_state,
                         cover_open=bool(cause & _COVER_OPEN), error=bool(cause & _ERROR))


def read_status(conn: Escpos) -> PrinterStatus:
    """Ask the printer for its status. Raises ``OSError`` (and kin) if the link fails;
    returns :data:`NO_ANSWER` when the printer is silent or answers garbage."""
    device = conn.device
    serial_port = hasattr(device, "reset_input_buffer") and hasattr(device, "read")
    if serial_port:
        device.reset_input_buffer()  # a late answer to an earlier query must not count
    conn._raw(STATUS_QUERY)
    if serial_port:
        # python-escpos's Serial._read() asks for 16 bytes and so always waits out
        # the timeout; asking for exactly the 3 due returns as soon as they arrive.
        return decode_status(device.read(3))
    return decode_status(_read_reply(conn, 3))


def _read_reply(conn: Escpos, size: int) -> bytes:
    reply = b""
    while len(reply) < size:
        chunk = conn._read()
        if not chunk:
            break
        reply += bytes(chunk)
    return reply
