"""Modbus RTU golden frames, CRCs cross-checked with an independent bitwise CRC-16/Modbus.

``01 03 00 00 00 0A C5 CD``, ``01 04 00 00 00 02 71 CB`` and the exception
``01 83 02 C0 F1`` are the frames every Modbus tutorial prints.
"""

from __future__ import annotations

import struct

import pytest
from pymodbus.pdu import ExceptionResponse
from pymodbus.pdu.register_message import ReadInputRegistersResponse

from drivers.meters import modbus_rtu
from drivers.meters.errors import BadCrc, MalformedFrame, TruncatedFrame


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def textbook_crc(data: bytes) -> bytes:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return bytes([crc & 0xFF, crc >> 8])


@pytest.mark.parametrize(("args", "frame"), [
    ((1, 3, 0x0000, 10), "01 03 00 00 00 0A C5 CD"),
    ((1, 4, 0x0000, 2), "01 04 00 00 00 02 71 CB"),
    ((1, 4, 0x0001, 2), "01 04 00 01 00 02 20 0B"),
])
def test_read_requests(args: tuple[int, int, int, int], frame: str) -> None:
    built = modbus_rtu.build_read_request(*args)
    assert built == h(frame)
    assert built[-2:] == textbook_crc(built[:-2])


def test_sdm_voltage_response() -> None:
    registers = list(struct.unpack(">HH", struct.pack(">f", 230.0)))
    frame = modbus_rtu.encode_response(1, ReadInputRegistersResponse(registers=registers))
    assert frame == h("01 04 04 43 66 00 00") + textbook_crc(h("01 04 04 43 66 00 00"))
    assert frame[-2:] == h("0E 1F")
    parsed, size = modbus_rtu.parse_response(frame)
    assert size == len(frame) and parsed.unit == 1 and list(parsed.pdu.registers) == registers


def test_temperature_sensor_response() -> None:
    frame = h("01 04 04 00 F5 01 C4 EB B5")  # 24.5 °C, 45.2 %RH
    parsed, _ = modbus_rtu.parse_response(frame)
    assert list(parsed.pdu.registers) == [245, 452]


def test_exception_response() -> None:
    frame = h("01 83 02 C0 F1")
    parsed, size = modbus_rtu.parse_response(frame)
    assert size == 5 and parsed.is_exception
    info = modbus_rtu.describe(parsed)
    assert info["exception"] == "illegal data address" and info["function_code"] == "83"
    assert modbus_rtu.encode_response(1, ExceptionResponse(3, 2)) == frame


def test_request_parse() -> None:
    parsed, _ = modbus_rtu.parse_request(h("01 04 00 01 00 02 20 0B"))
    info = modbus_rtu.describe(parsed)
    assert info == {"protocol": "modbus", "form": "request", "unit": 1, "function_code": "04",
                    "function": "read input registers", "crc": "200B", "address": 1,
                    "address_hex": "0001", "count": 2}


def test_errors() -> None:
    with pytest.raises(BadCrc, match="bad CRC: expected 71CB got 71CC"):
        modbus_rtu.parse_request(h("01 04 00 00 00 02 71 CC"))
    with pytest.raises(TruncatedFrame, match="truncated: need 9 bytes, have 7"):
        modbus_rtu.parse_response(h("01 04 04 00 F5 01 C4"))
    with pytest.raises(MalformedFrame, match="function code 41 is not a known Modbus response"):
        modbus_rtu.parse_response(h("01 41 00 00 00"))
    with pytest.raises(MalformedFrame, match="exception response, not a request"):
        modbus_rtu.parse_request(h("01 83 02 C0 F1"))
