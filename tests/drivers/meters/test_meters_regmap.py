"""Register maps: the shipped files, value decoding in every word/byte order, validation."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.meters.regmap import (
    RegisterMapError,
    RegisterSpec,
    builtin_map_names,
    load_register_map,
    parse_register_map,
)


def regs(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def test_shipped_maps() -> None:
    assert builtin_map_names() == ["eastron_sdm120", "eastron_sdm630", "xy_md02"]


@pytest.mark.parametrize("name", ["eastron_sdm120", "eastron_sdm630"])
def test_eastron_addresses_follow_the_manual(name: str) -> None:
    m = load_register_map(name)
    assert m.default_serial == "9600 8N1"
    first = "voltage" if name == "eastron_sdm120" else "voltage_l1"
    current = "current" if name == "eastron_sdm120" else "current_l1"
    power = "power" if name == "eastron_sdm120" else "power_l1"
    expected = {first: 0x0000, current: 0x0006, power: 0x000C, "frequency": 0x0046,
                "energy_import": 0x0048, "energy_total": 0x0156}
    for reg, address in expected.items():
        spec = m.spec(reg)
        assert (spec.address, spec.function_code, spec.type, spec.word_order, spec.byte_order) == (
            address, 4, "f32", "big", "big")
    assert m.spec("energy_import").cumulative and m.spec("energy_import").unit == "kWh"
    assert not m.spec("frequency").cumulative


def test_sdm120_reads_in_three_requests() -> None:
    blocks = load_register_map("eastron_sdm120").blocks()
    assert [(b.function_code, b.address, b.count) for b in blocks] == [(4, 0x0000, 32), (4, 0x0046, 6),
                                                                      (4, 0x0156, 2)]


def test_temperature_sensor_map() -> None:
    m = load_register_map("xy_md02")
    (block,) = m.blocks()
    assert (block.function_code, block.address, block.count) == (4, 0x0001, 2)
    assert block.values([0xFFDD, 452]) == pytest.approx({"temperature": -3.5, "humidity": 45.2})
    assert m.spec("temperature").unit == "°C" and m.spec("humidity").unit == "%"


@pytest.mark.parametrize(("type_", "word", "byte", "registers", "value"), [
    ("f32", "big", "big", regs(struct.pack(">f", 230.5)), 230.5),
    ("f32", "little", "big", regs(struct.pack(">f", 230.5))[::-1], 230.5),
    ("f32", "big", "little", [0x6643, 0x0080], struct.unpack(">f", bytes.fromhex("43668000"))[0]),
    ("u32", "big", "big", [0x0001, 0x0002], 65538),
    ("u32", "little", "big", [0x0002, 0x0001], 65538),
    ("s32", "big", "big", [0xFFFF, 0xFFFE], -2),
    ("u16", "big", "little", [0x3412], 0x1234),
    ("s16", "big", "big", [0x8000], -32768),
])
def test_decode_orders(type_: str, word: str, byte: str, registers: list[int], value: float) -> None:
    spec = RegisterSpec("x", 0, type=type_, word_order=word, byte_order=byte)
    assert spec.decode(registers) == pytest.approx(value)
    assert spec.encode(value) == registers


@given(type_=st.sampled_from(["u16", "s16", "u32", "s32"]), word=st.sampled_from(["big", "little"]),
       byte=st.sampled_from(["big", "little"]), raw=st.integers(-(2**31), 2**32 - 1),
       scale=st.sampled_from([1.0, 0.1, 0.01, 10.0]))
def test_integer_round_trip(type_: str, word: str, byte: str, raw: int, scale: float) -> None:
    bits = 16 if type_.endswith("16") else 32
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if type_[0] == "s" else (0, 2**bits - 1)
    raw = lo + (raw - lo) % (hi - lo + 1)
    spec = RegisterSpec("x", 0, type=type_, word_order=word, byte_order=byte, scale=scale)
    registers = spec.encode(raw * scale)
    assert all(0 <= r <= 0xFFFF for r in registers)
    assert spec.decode(registers) == pytest.approx(raw * scale)


def base_map(**register: object) -> dict[str, object]:
    return {"name": "t", "register": [{"name": "a", "address": 0, **register}]}


@pytest.mark.parametrize(("data", "message"), [
    (base_map(type="f33"), "register #1 ('a'): key 'type' is 'f33', expected one of u16, s16, u32, s32, f32"),
    (base_map(function="coil"), "key 'function' is 'coil', expected one of input, holding"),
    (base_map(address=70000), "key 'address' must be an integer 0..65535"),
    (base_map(scale=0), "key 'scale' must be a non-zero number"),
    (base_map(colour="red"), "unknown key 'colour'"),
    ({"name": "t", "register": []}, "at least one [[register]] is required"),
    ({"name": "t", "register": [{"name": "a", "address": 0, "type": "u32"},
                                {"name": "b", "address": 1}]}, "registers 'a' and 'b' overlap"),
    ({"name": "t", "register": [{"name": "a", "address": 0}, {"name": "a", "address": 4}]},
     "register name 'a' appears twice"),
    ({"name": "t", "read": {"max_registers": 500}, "register": [{"name": "a", "address": 0}]},
     "key 'max_registers' must be 2..125"),
])
def test_validation_names_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(RegisterMapError) as info:
        parse_register_map(data, "site.toml")
    assert message in str(info.value)
    assert str(info.value).startswith("site.toml")


def test_load_from_toml_and_json_files(tmp_path: Path) -> None:
    toml_file = tmp_path / "pump.toml"
    toml_file.write_text('name = "pump"\n[defaults]\nfunction = "holding"\n'
                         '[[register]]\nname = "hours"\naddress = 0x10\ntype = "u32"\nword_order = "little"\n'
                         'cumulative = true\nunit = "h"\n', encoding="utf-8")
    m = load_register_map(toml_file)
    assert (m.name, m.spec("hours").function_code, m.spec("hours").word_order) == ("pump", 3, "little")
    json_file = tmp_path / "probe.json"
    json_file.write_text(json.dumps({"register": [{"name": "t", "address": 1, "type": "s16", "scale": 0.1}]}),
                         encoding="utf-8")
    assert load_register_map(json_file).name == "probe"


def test_unknown_map_lists_the_shipped_ones() -> None:
    with pytest.raises(RegisterMapError, match="shipped maps are eastron_sdm120, eastron_sdm630, xy_md02"):
        load_register_map("sdm999")
