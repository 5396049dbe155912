"""CJ/T 188-2004 golden frames.

The read request for cold-water meter 78330011223344 is a public example whose
checksum (80h) agrees. The matching public reply's data field is used as is, but
its printed checksum (08h) does not match its own bytes: the byte sum is 13h,
which is what the frame below carries. Abnormal and litre-unit frames are built
by hand from the standard, their checksums summed independently.
"""

from __future__ import annotations

import pytest

from drivers.meters import cjt188
from drivers.meters.errors import BadChecksum, BadEndByte, BadLength, MalformedFrame, TruncatedFrame

ADDR = "78330011223344"
READ = "FE FE FE FE 68 10 44 33 22 11 00 33 78 01 03 1F 90 00 80 16"
REPLY_DATA = "1F 90 00 00 77 66 55 2C 00 77 66 55 2C 31 01 22 11 05 15 20 21 84"
REPLY = f"FE FE FE FE 68 10 44 33 22 11 00 33 78 81 16 {REPLY_DATA} 13 16"


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def test_read_request_matches_public_example() -> None:
    assert cjt188.build_read(0x10, ADDR) == h(READ)
    parsed, size = cjt188.parse_frame(h(READ))
    assert size == len(h(READ))
    info = cjt188.describe(parsed)
    assert info["meter_type_name"] == "cold water meter"
    assert info["data_identifier"] == "901F" and info["di_order"] == "low byte first"


def test_read_request_with_identifier_high_byte_first() -> None:
    frame = cjt188.build_read(0x10, ADDR, di_low_first=False)
    assert frame == h("FE FE FE FE 68 10 44 33 22 11 00 33 78 01 03 90 1F 00 80 16")
    parsed, _ = cjt188.parse_frame(frame)
    assert cjt188.describe(parsed)["di_order"] == "high byte first"


def test_broadcast_read_request() -> None:
    frame = h("68 10 AA AA AA AA AA AA AA 01 03 1F 90 00 D1 16")
    assert cjt188.build_read(0x10, cjt188.BROADCAST_ADDRESS, preamble=0) == frame
    parsed, _ = cjt188.parse_frame(frame)
    assert cjt188.describe(parsed)["broadcast"] is True


def test_read_reply_decodes_flow_clock_and_status() -> None:
    parsed, _ = cjt188.parse_frame(h(REPLY))
    assert parsed.control == 0x81 and parsed.address == ADDR
    m = cjt188.decode_measurement(parsed.data)
    assert m.volume == pytest.approx(556677.00)
    assert m.volume_unit == "m³"
    assert m.settlement_volume == pytest.approx(556677.00)
    assert m.meter_time == "2015-05-11 22:01:31"
    assert m.status.raw == h("21 84")
    assert m.status.valve == "closed"  # D1 D0 = 01
    assert m.status.battery_low is False  # D2 = 0
    info = cjt188.describe(parsed)
    assert info["volume"] == pytest.approx(556677.0) and info["unit_byte"] == "2C"


def test_measurement_encoding_reproduces_the_example_data() -> None:
    data = cjt188.encode_measurement(0, 556677.00, 556677.00, (2015, 5, 11, 22, 1, 31), h("21 84"))
    assert data == h(REPLY_DATA)
    assert cjt188.encode_frame(0x10, ADDR, 0x81, data) == h(REPLY)


def test_litre_unit_is_converted_to_cubic_metres() -> None:
    frame = h("68 10 44 33 22 11 00 33 78 81 16 1F 90 00 00 50 12 00 29 00 00 10 00 29 "
              "31 01 22 11 05 15 20 04 00 7A 16")
    m = cjt188.decode_measurement(cjt188.parse_frame(frame)[0].data)
    assert m.volume == pytest.approx(1.25)  # 001250.00 L
    assert m.settlement_volume == pytest.approx(1.0)  # 001000.00 L
    assert m.status.battery_low is True and m.status.valve == "open"


def test_abnormal_reply() -> None:
    frame = h("68 10 44 33 22 11 00 33 78 C1 03 00 01 00 92 16")
    parsed, _ = cjt188.parse_frame(frame)
    assert parsed.is_abnormal and parsed.function == cjt188.FN_READ
    info = cjt188.describe(parsed)
    assert info["abnormal"] is True and info["valve"] == "closed" and info["status_hex"] == "01 00"


@pytest.mark.parametrize(("frame", "error", "message"), [
    (REPLY.replace(" 13 16", " 14 16"), BadChecksum, "bad checksum: expected 13 got 14"),
    (READ[:-6], TruncatedFrame, "truncated: need 20 bytes, have 18"),
    (READ.replace(" 80 16", " 80 17"), BadEndByte, "bad end byte at offset 19: expected 16, got 17"),
    ("68 10 44 33 22 11 00 33 78 81 41" + " 00" * 67, BadLength, "bad length: length field L=65 exceeds 64"),
])
def test_parse_errors_are_precise(frame: str, error: type, message: str) -> None:
    with pytest.raises(error) as info:
        cjt188.parse_frame(h(frame))
    assert str(info.value) == message


def test_unknown_unit_byte_is_malformed() -> None:
    data = bytearray(h(REPLY_DATA))
    data[7] = 0x7F
    with pytest.raises(MalformedFrame, match="unknown unit byte 7F"):
        cjt188.decode_measurement(bytes(data))
