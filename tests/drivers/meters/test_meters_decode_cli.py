"""The installer's decoder: JSON on success, exit 2 with the precise reason on failure."""

from __future__ import annotations

import json

import pytest

from drivers.meters import modbus_rtu
from drivers.meters.decode import decode_frame, main
from drivers.meters.errors import BadLength, FrameError

DLT_ENERGY = "FE FE FE FE 68 94 35 21 90 88 55 68 91 08 33 33 34 33 59 35 33 33 81 16"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_dlt645_reply_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "decode", "dlt645", DLT_ENERGY)
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert result["address"] == "558890213594"
    assert result["data_identifier"] == "00010000"
    assert result["value"] == pytest.approx(2.26) and result["unit"] == "kWh"
    assert result["frame_hex"] == DLT_ENERGY


def test_hex_may_be_split_over_arguments_and_decode_word_is_optional(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "cjt188", *"FE FE 68 10 44 33 22 11 00 33 78 01 03 1F 90 00 80 16".split())
    assert code == 0
    assert json.loads(out)["address"] == "78330011223344"


def test_dlt645_abnormal_reply(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "dlt645", "68 94 35 21 90 88 55 68 D1 01 35 2E 16")
    assert code == 0
    assert json.loads(out)["errors"] == ["no data requested"]


def test_modbus_request_and_response_forms(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "modbus", "01 04 00 00 00 02 71 CB")
    assert code == 0 and json.loads(out)["form"] == "request"
    code, out, _ = run(capsys, "modbus", "01 04 04 00 F5 01 C4 EB B5")
    result = json.loads(out)
    assert code == 0 and result["form"] == "response" and result["registers"] == [245, 452]
    code, out, _ = run(capsys, "modbus", "01 83 02 C0 F1")
    assert code == 0 and json.loads(out)["exception"] == "illegal data address"


def test_modbus_frame_fitting_both_forms_is_shown_both_ways() -> None:
    body = bytes.fromhex("01 01 03 CD 01 05")  # 3 coil bytes, or: read 261 coils from 03CD
    frame = body + modbus_rtu.crc(body).to_bytes(2, "big")
    result = decode_frame("modbus", frame)
    assert result["form"] == "ambiguous"
    assert result["as_request"]["count"] == 261
    assert result["as_response"]["bits"][:8] == [True, False, True, True, False, False, True, True]


@pytest.mark.parametrize(("argv", "message"), [
    (("dlt645", DLT_ENERGY.replace("81 16", "82 16")), "dlt645: bad checksum: expected 81 got 82"),
    (("dlt645", DLT_ENERGY[:-12]), "dlt645: truncated: need 24 bytes, have 20"),
    (("dlt645", "69" + DLT_ENERGY[14:]), "dlt645: bad start byte at offset 0: expected 68, got 69"),
    (("dlt645", DLT_ENERGY.replace("81 16", "81 61")), "dlt645: bad end byte at offset 23: expected 16, got 61"),
    (("dlt645", DLT_ENERGY + " 00"), "dlt645: bad length: the frame is 24 bytes, but 25 bytes were given"),
    (("cjt188", "68 10 44 33 22 11 00 33 78 01 03 1F 90 00 81 16"), "cjt188: bad checksum: expected 80 got 81"),
    (("modbus", "01 04 00 00 00 02 71 CC"), "modbus: bad CRC: expected 71CB got 71CC"),
    (("modbus", "01 04 00"), "modbus: truncated: need 4 bytes, have 3"),
    (("modbus", "01 04 00 00 00 02 71 CB 00"),
     "modbus: bad length: a function 04 request is 8 bytes, but 9 bytes were given"),
    (("modbus", "01 41 00 00 00"), "modbus: malformed: function code 41 is not a known Modbus"),
    (("dlt645", "68 GG"), "dlt645: not hexadecimal: 'G'"),
    (("dlt645", "68 1"), "dlt645: odd number of hex digits (3)"),
])
def test_errors_exit_2_with_the_precise_reason(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...],
                                               message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith(message)


def test_unknown_protocol(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "decode", "mbus", "68")
    assert code == 2 and "invalid choice: 'mbus'" in err
    with pytest.raises(ValueError, match="unknown protocol 'mbus'"):
        decode_frame("mbus", b"\x68")


def test_errors_form_one_hierarchy() -> None:
    with pytest.raises(FrameError) as info:
        decode_frame("dlt645", bytes.fromhex(DLT_ENERGY.replace(" ", "")) + b"\x00")
    assert isinstance(info.value, BadLength)
