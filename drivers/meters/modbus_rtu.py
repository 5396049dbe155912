"""Modbus RTU framing on top of pymodbus's PDU classes, framer and CRC.

pymodbus's own RTU framer hunts silently and drops a frame whose CRC fails; a
meter bus needs to count *why* a reply was rejected, so this module sizes a frame
with pymodbus's PDU lookup (``lookupPduClass`` / ``calculateRtuFrameSize``),
checks ``FramerRTU.compute_CRC`` itself and decodes with ``DecodePDU``.
Requests are built with ``FramerRTU.buildFrame``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pymodbus.exceptions import ModbusException
from pymodbus.framer.rtu import FramerRTU
from pymodbus.pdu import DecodePDU, ModbusPDU
from pymodbus.pdu.register_message import ReadHoldingRegistersRequest, ReadInputRegistersRequest

from drivers.meters.errors import BadCrc, MalformedFrame, TruncatedFrame

log = logging.getLogger(__name__)

FC_READ_HOLDING = 3
FC_READ_INPUT = 4
MIN_FRAME = 4  # address, function, CRC
MAX_FRAME = 256

FUNCTION_NAMES = {
    1: "read coils",
    2: "read discrete inputs",
    3: "read holding registers",
    4: "read input registers",
    5: "write single coil",
    6: "write single register",
    7: "read exception status",
    8: "diagnostics",
    11: "get comm event counter",
    12: "get comm event log",
    15: "write multiple coils",
    16: "write multiple registers",
    17: "report server id",
    20: "read file record",
    21: "write file record",
    22: "mask write register",
    23: "read/write multiple registers",
    24: "read FIFO queue",
    43: "encapsulated interface transport",
}

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "slave device failure",
    5: "acknowledge",
    6: "slave device busy",
    7: "negative acknowledge",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}

_RESPONSES = DecodePDU(is_server=False)
_REQUESTS = DecodePDU(is_server=True)
_CLIENT_FRAMER = FramerRTU(_RESPONSES)
_SERVER_FRAMER = FramerRTU(_REQUESTS)
_READ_REQUESTS = {FC_READ_HOLDING: ReadHoldingRegistersRequest, FC_READ_INPUT: ReadInputRegistersRequest}


@dataclass(frozen=True)
class Frame:
    unit: int
    function_code: int  # as on the wire; 0x80 set for an exception response
    pdu: ModbusPDU
    raw: bytes
    is_request: bool

    @property
    def is_exception(self) -> bool:
        return self.function_code >= 0x80

    @property
    def crc_hex(self) -> str:
        return self.raw[-2:].hex().upper()


def crc(data: bytes) -> int:
    """CRC-16/Modbus as the 16-bit value of its two wire bytes (low byte first)."""
    return FramerRTU.compute_CRC(data)


def build_read_request(unit: int, function_code: int, address: int, count: int) -> bytes:
    try:
        cls = _READ_REQUESTS[function_code]
    except KeyError:
        raise ValueError(f"function {function_code} is not a register read (3 or 4)") from None
    return _CLIENT_FRAMER.buildFrame(cls(address=address, count=count, dev_id=unit))


def encode_response(unit: int, pdu: ModbusPDU) -> bytes:
    pdu.dev_id = unit
    return _SERVER_FRAMER.buildFrame(pdu)


def frame_size(buf: bytes, *, request: bool) -> int:
    """RTU size of the frame at ``buf[0]`` per pymodbus's PDU tables."""
    have = len(buf)
    if have < MIN_FRAME:
        raise TruncatedFrame(MIN_FRAME, have)
    function_code = buf[1]
    if request and function_code & 0x80:
        raise MalformedFrame(f"function code {function_code:02X} marks an exception response, not a request")
    decoder = _REQUESTS if request else _RESPONSES
    pdu_class = decoder.lookupPduClass(buf)
    if pdu_class is None:
        form = "request" if request else "response"
        raise MalformedFrame(f"function code {function_code:02X} is not a known Modbus {form}")
    try:
        size = pdu_class.calculateRtuFrameSize(buf)
    except ModbusException:
        raise MalformedFrame(f"pymodbus cannot size an RTU frame for function {function_code:02X}") from None
    if size == 0:  # the byte count lies beyond what we have
        raise TruncatedFrame(pdu_class.rtu_byte_count_pos + 3, have)
    if size > MAX_FRAME:
        raise MalformedFrame(f"byte count implies a {size}-byte frame, over Modbus's {MAX_FRAME}")
    return size


def _parse(buf: bytes, *, request: bool) -> tuple[Frame, int]:
    size = frame_size(buf, request=request)
    if len(buf) < size:
        raise TruncatedFrame(size, len(buf))
    body = bytes(buf[: size - 2])
    got = int.from_bytes(buf[size - 2 : size], "big")
    expected = crc(body)
    if got != expected:
        raise BadCrc(expected, got)
    decoder = _REQUESTS if request else _RESPONSES
    try:
        pdu = decoder.decode(body[1:])
    except Exception as exc:  # pymodbus decoders are not fuzz-hardened; keep our error type
        log.debug("pymodbus failed on %s: %r", body.hex(), exc)
        pdu = None
    if pdu is None:
        raise MalformedFrame(f"function {body[1]:02X} payload {body[2:].hex(' ').upper()} does not decode")
    pdu.dev_id = body[0]
    return Frame(body[0], body[1], pdu, bytes(buf[:size]), request), size


def parse_response(buf: bytes) -> tuple[Frame, int]:
    """Parse the response frame at ``buf[0]``; return it and its size."""
    return _parse(buf, request=False)


def parse_request(buf: bytes) -> tuple[Frame, int]:
    """Parse the request frame at ``buf[0]``; return it and its size."""
    return _parse(buf, request=True)


def describe(frame: Frame) -> dict[str, object]:
    fc = frame.function_code & 0x7F
    out: dict[str, object] = {
        "protocol": "modbus",
        "form": "request" if frame.is_request else "response",
        "unit": frame.unit,
        "function_code": f"{frame.function_code:02X}",
        "function": FUNCTION_NAMES.get(fc, f"function {fc:02X}"),
        "crc": frame.crc_hex,
    }
    pdu = frame.pdu
    if frame.is_exception:
        code = pdu.exception_code
        out["exception_code"] = f"{code:02X}"
        out["exception"] = EXCEPTION_NAMES.get(code, "unknown exception")
        return out
    if frame.is_request and fc in (1, 2, 3, 4):
        out["address"] = pdu.address
        out["address_hex"] = f"{pdu.address:04X}"
        out["count"] = pdu.count
    elif fc in (3, 4, 23) and not frame.is_request:
        out["byte_count"] = frame.raw[2]
        out["registers"] = list(pdu.registers)
        out["registers_hex"] = [f"{r:04X}" for r in pdu.registers]
    elif fc in (1, 2) and not frame.is_request:
        out["bits"] = [bool(b) for b in pdu.bits]
    else:
        out["pdu"] = str(pdu)
    return out
