"""From [[buses]]/[[meters]] to drivers: checks with precise messages, canonical points, discovery tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.meters.devices import Cjt188Device, Dlt645Device, ModbusDevice
from lobby import discovery
from lobby.config import ConfigError, load_config, parse_config
from drivers.meters.points import POINTS
from lobby.meters.points import DEFAULT_POINTS, bindings, meter_kind
from lobby.meters.wiring import build_bus, device_spec, line_load

ROOT = Path(__file__).resolve().parents[2]

HEAD = """
version = 1
[site]
site_id = "tower-a"
gateway_id = "gw-1"
[mqtt]
host = "127.0.0.1"
[[buses]]
id = "rs485-1"
port = "/dev/ttyUSB0"
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(HEAD + text, "t.toml")
    return info.value.lines()


def meter(**keys: object) -> str:
    base: dict[str, object] = {"id": "m1", "bus": "rs485-1", "protocol": "dlt645", "address": "1234"}
    base.update(keys)
    body = "\n".join(f"{k} = {v!r}".replace("'", '"') if not isinstance(v, bool) else f"{k} = {str(v).lower()}"
                     for k, v in base.items())
    return "[[meters]]\n" + body + "\n"


BROKEN = [
    ("unknown point", meter(points=["energy"]), "meters[0].points: unknown point 'energy'"),
    ("point the protocol lacks", meter(points=["temperature"]), "meters[0].points: point 'temperature' is not offered by dlt645"),
    ("map file missing", meter(protocol="modbus", address="3", map="/nowhere/map.toml"), "meters[0].map: no register map '/nowhere/map.toml'"),
    ("map on a dlt645 meter", meter(map="sdm120"), "meters[0]: map is for modbus meters"),
    ("billing point not cumulative", meter(billing_point="power_total"), "meters[0].billing_point: 'power_total' is not a cumulative point"),
    ("billing point not read", meter(billing_point="energy_export"), "meters[0].billing_point: 'energy_export' is not among the points read"),
    ("leak check on electricity", meter(leak_check=True), "meters[0].leak_check: needs a water meter"),
    ("leak window too short", meter(protocol="cjt188", leak_check=True, leak_from="01:00", leak_to="01:30"), "leak_from..leak_to must be at least leak_interval_min long"),
    ("interval longer than leak interval", meter(protocol="cjt188", leak_check=True, interval_s=7200), "leak_check needs interval_s no longer than leak_interval_min"),
    ("jump check without a register", meter(protocol="modbus", address="2", map="th_sensor", max_jump_per_h=5), "meters[0].max_jump_per_h: the meter reads no cumulative point"),
    ("same address twice on a line", meter() + meter(id="m2", address="000000001234"), "meters[1].address: dlt645 address 000000001234 is already used on bus 'rs485-1' by meters[0]"),
    ("bad water type", meter(protocol="cjt188", water_type="gas"), "meters[0].water_type: must be one of"),
    ("retry window reversed", "[[buses]]\nid = \"rs485-2\"\nport = \"/dev/ttyUSB1\"\nlost_retry_s = 60\n"
     "lost_retry_max_s = 10\n", "buses[1]: lost_retry_max_s must not be less than lost_retry_s"),
    ("line overloaded", "".join(meter(id=f"m{i}", address=str(i + 1), interval_s=1) for i in range(8)),
     "buses[0]: its meters need"),
]


@pytest.mark.parametrize(("name", "text", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_meter_config_gets_a_precise_message(name: str, text: str, expected: str) -> None:
    lines = problems(text)
    assert any(expected in line for line in lines), lines


def test_example_config_builds_one_bus_per_line_and_a_spec_per_meter() -> None:
    cfg = load_config(ROOT / "config" / "example.toml")
    specs = {m.id: device_spec(m, next(b for b in cfg.buses if b.id == m.bus)) for m in cfg.meters}
    assert isinstance(specs["elec-lobby"], Dlt645Device) and specs["elec-lobby"].address == "000000001234"
    assert specs["elec-lobby"].items == ("energy_import", "voltage_a", "current_a", "power")
    assert isinstance(specs["water-main"], Cjt188Device) and specs["water-main"].meter_type == 0x10
    plant = specs["elec-plant"]
    assert isinstance(plant, ModbusDevice) and plant.unit == 1 and plant.timeout == 0.2  # the bus's 200 ms
    # only the registers of the configured points are read
    assert {r.name for r in plant.map.registers} == {"energy_import", "voltage_l1", "voltage_l2", "voltage_l3",
                                                     "current_l1", "current_l2", "current_l3", "power", "frequency"}
    bus = build_bus(cfg.buses[0], [m for m in cfg.meters if m.bus == "rs485-1"])
    assert bus.settings.parity == "E" and bus.settings.baudrate == 2400 and bus.port == "/dev/lobby-rs485"
    assert all(line_load(b, [m for m in cfg.meters if m.bus == b.id]) < 0.1 for b in cfg.buses)
    assert {m.id: meter_kind(m) for m in cfg.meters} == {"elec-lobby": "electricity", "water-main": "water",
                                                         "elec-plant": "electricity", "th-lobby": "environment"}


def test_map_aliases_and_unit_conversion() -> None:
    cfg = parse_config(HEAD + meter(protocol="modbus", address="4", map="sdm120"), "t.toml")
    found = {b.name: b for b in bindings(cfg.meters[0])}
    assert found["power_total"].native == "power" and found["power_total"].factor == 0.001  # W -> kW
    assert found["voltage_a"].native == "voltage" and found["voltage_a"].convert(229.39999389648438) == 229.4
    assert meter_kind(cfg.meters[0]) == "electricity"


def test_discovery_tables_follow_the_canonical_points() -> None:
    assert set(discovery.METER_POINTS) == set(POINTS)
    for name, (device_class, state_class, unit) in discovery.METER_POINTS.items():
        assert unit == POINTS[name].unit
        assert state_class == ("total_increasing" if POINTS[name].cumulative else state_class)
    assert all(p in POINTS for names in discovery.DEFAULT_POINTS.values() for p in names)
    assert discovery.DEFAULT_POINTS == DEFAULT_POINTS
    cfg = load_config(ROOT / "config" / "example.toml")
    points = {m.id: discovery.meter_points(m) for m in cfg.meters}
    assert points["th-lobby"] == ["temperature", "humidity"]
    assert points["elec-lobby"] == ["energy_import", "voltage_a", "current_a", "power_total"]
    document = discovery.discovery_document(cfg)
    assert "elec-plant_voltage_c" in document["cmps"] and "water-main_volume_total" in document["cmps"]
    alerts = {k: c["stat_t"].rsplit("/", 1)[-1] for k, c in document["cmps"].items() if c["p"] == "binary_sensor"}
    assert alerts["water-main_meter_leak"] == "meter.leak:water-main"  # leak_check is on in the example
    assert alerts["th-lobby_comfort_humidity"] == "comfort.humidity:th-lobby"
    assert "th-lobby_comfort_noise" not in alerts and "elec-lobby_meter_leak" not in alerts  # no such point / check
    assert alerts["elec-lobby_meter_backwards"] == "meter.backwards:elec-lobby"
    assert document["cmps"]["th-lobby_humidity"]["p"] == "sensor"
    # what the meter publishes is what Home Assistant is told to expect
    for m in cfg.meters:
        assert discovery.meter_points(m) == [b.name for b in bindings(m)]
