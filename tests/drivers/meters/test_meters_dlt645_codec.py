"""DL/T 645-2007 golden frames.

Requests and replies for meter 558890213594 and 000000000161 are public captures
(read address, forward active energy, phase A voltage and current); the abnormal,
signed-power and follow-up frames are built by hand from the standard, their
checksums summed independently.
"""

from __future__ import annotations

import pytest

from drivers.meters import dlt645
from drivers.meters.bcd import decode_bcd, encode_bcd
from drivers.meters.errors import BadChecksum, BadEndByte, BadLength, BadStartByte, MalformedFrame, TruncatedFrame

ADDR = "558890213594"


def h(text: str) -> bytes:
    return bytes.fromhex(text)


@pytest.mark.parametrize(("di", "frame"), [
    (0x00010000, "FE FE FE FE 68 94 35 21 90 88 55 68 11 04 33 33 34 33 09 16"),
    (0x02010100, "FE FE FE FE 68 94 35 21 90 88 55 68 11 04 33 34 34 35 0C 16"),
    (0x02020100, "FE FE FE FE 68 94 35 21 90 88 55 68 11 04 33 34 35 35 0D 16"),
])
def test_read_requests_match_public_captures(di: int, frame: str) -> None:
    assert dlt645.build_read(ADDR, di) == h(frame)


def test_read_request_without_preamble() -> None:
    frame = h("68 61 01 00 00 00 00 68 11 04 33 33 34 33 14 16")
    assert dlt645.build_read("000000000161", 0x00010000, preamble=0) == frame


def test_broadcast_read_address_request() -> None:
    frame = h("FE FE FE FE 68 AA AA AA AA AA AA 68 13 00 DF 16")
    assert dlt645.build_read_address() == frame
    parsed, size = dlt645.parse_frame(frame)
    assert size == len(frame)
    assert parsed.address == dlt645.BROADCAST_ADDRESS
    assert parsed.function == dlt645.FN_READ_ADDRESS and not parsed.is_reply


def test_read_address_reply() -> None:
    frame = h("FE FE FE FE 68 94 35 21 90 88 55 68 93 06 C7 68 54 C3 BB 88 49 16")
    parsed, _ = dlt645.parse_frame(frame)
    assert parsed.control == 0x93 and parsed.is_reply
    assert dlt645.describe(parsed)["reported_address"] == ADDR
    assert dlt645.build_address_reply(ADDR) == frame


@pytest.mark.parametrize(("frame", "name", "value", "unit"), [
    ("FE FE FE FE 68 94 35 21 90 88 55 68 91 08 33 33 34 33 59 35 33 33 81 16", "energy_import", 2.26, "kWh"),
    ("68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16", "energy_import", 0.26, "kWh"),
    ("FE FE FE FE 68 94 35 21 90 88 55 68 91 06 33 34 34 35 7B 55 5E 16", "voltage_a", 224.8, "V"),
    ("68 61 01 00 00 00 00 68 91 06 33 34 34 35 34 43 10 16", "voltage_a", 100.1, "V"),
    ("FE FE FE FE 68 94 35 21 90 88 55 68 91 07 33 34 35 35 6B 35 33 63 16", "current_a", 0.238, "A"),
])
def test_read_replies_decode_to_scaled_values(frame: str, name: str, value: float, unit: str) -> None:
    parsed, size = dlt645.parse_frame(h(frame))
    assert size == len(h(frame))
    info = dlt645.describe(parsed)
    assert info["item"] == name
    assert info["value"] == pytest.approx(value)
    assert info["unit"] == unit
    item = dlt645.ITEMS_BY_NAME[name]
    assert dlt645.build_read_reply(parsed.address, item.di, item.encode(value),
                                   preamble=parsed.preamble) == h(frame)


def test_signed_power_reply() -> None:
    # total active power -1.5000 kW: BCD 01 50 00 with the sign bit, sent 00 50 81, +33h each
    frame = h("68 94 35 21 90 88 55 68 91 07 33 33 36 35 33 83 B4 FA 16")
    parsed, _ = dlt645.parse_frame(frame)
    assert dlt645.describe(parsed)["value"] == pytest.approx(-1.5)
    assert dlt645.ITEMS_BY_NAME["power"].encode(-1.5) == h("00 50 81")


def test_abnormal_reply_decodes_error_bits() -> None:
    frame = h("68 94 35 21 90 88 55 68 D1 01 35 2E 16")  # error byte 02h: no data requested
    parsed, _ = dlt645.parse_frame(frame)
    assert parsed.is_abnormal and parsed.function == dlt645.FN_READ
    info = dlt645.describe(parsed)
    assert info["error_code"] == "02"
    assert info["errors"] == ["no data requested"]
    assert dlt645.build_abnormal_reply(ADDR, dlt645.FN_READ, 0x02, preamble=0) == frame


def test_error_byte_bits_in_plain_words() -> None:
    assert dlt645.describe_error_byte(0x01) == ["other error"]
    assert dlt645.describe_error_byte(0x04 | 0x08) == ["wrong password or not authorised",
                                                       "baud rate cannot be changed"]
    assert dlt645.describe_error_byte(0x70) == ["over annual time zones", "over daily time zones",
                                                "over rate count"]


def test_follow_up_reply_is_flagged() -> None:
    frame = h("68 94 35 21 90 88 55 68 B1 08 33 33 34 33 59 35 33 33 A1 16")
    parsed, _ = dlt645.parse_frame(frame)
    assert parsed.has_follow_up
    assert dlt645.describe(parsed)["follow_up"] is True


@pytest.mark.parametrize(("frame", "error", "message"), [
    ("68 94 35 21 90 88 55 68 91 08 33 33 34 33 59 35 33 33 82 16", BadChecksum, "bad checksum: expected 81 got 82"),
    ("68 94 35 21 90 88 55 68 91 08 33 33", TruncatedFrame, "truncated: need 20 bytes, have 12"),
    ("FE FE", TruncatedFrame, "truncated: need 14 bytes, have 2"),
    ("69 94 35 21 90 88 55 68 91 00 00 16", BadStartByte, "bad start byte at offset 0: expected 68, got 69"),
    ("68 94 35 21 90 88 55 67 91 00 00 16", BadStartByte, "bad second start byte at offset 7"),
    ("68 94 35 21 90 88 55 68 91 08 33 33 34 33 59 35 33 33 81 17", BadEndByte, "bad end byte at offset 19"),
    ("68 94 35 21 90 88 55 68 91 C9" + " 00" * 203, BadLength, "bad length: length field L=201"),
])
def test_parse_errors_are_precise(frame: str, error: type, message: str) -> None:
    with pytest.raises(error) as info:
        dlt645.parse_frame(h(frame))
    assert str(info.value).startswith(message)


def test_bcd_sign_bit_and_bad_digits() -> None:
    assert decode_bcd(h("38 02 80"), signed=True) == -238
    assert decode_bcd(h("38 02 80")) == 800238  # unsigned: the top bit is part of the digit 8
    assert encode_bcd(-238, 3, signed=True) == h("38 02 80")
    with pytest.raises(MalformedFrame, match="1A is not a BCD byte"):
        decode_bcd(h("1A 00"))
    with pytest.raises(ValueError):
        encode_bcd(800000, 3, signed=True)
