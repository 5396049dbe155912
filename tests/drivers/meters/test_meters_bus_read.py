"""The real bus driver against the wire-level simulators: values, units, scaling, per protocol."""

from __future__ import annotations

import pytest
from meters_testing import FAST_8N1

from drivers.health import HealthState
from drivers.meters.devices import Cjt188Device, Dlt645Device, ModbusDevice
from drivers.meters.reading import Quality
from drivers.meters.sim import SimCjt188Meter, SimDlt645Meter, SimModbusDevice


def test_dlt645_values_and_units(sim_line, meter_bus) -> None:
    sim_line([SimDlt645Meter("e1", "000000000001", energy_kwh=1234.56, power_kw=-1.5, voltage=229.9,
                             frequency=49.98)])
    items = ("energy_import", "voltage_a", "current_a", "power", "frequency")
    bus = meter_bus([Dlt645Device(device_id="e1", address="000000000001", items=items)])
    reading = bus.read("e1")
    assert reading.ok and reading.protocol == "dlt645"
    assert reading.health.state is HealthState.OK
    got = {name: (v.value, v.unit) for name, v in reading.values.items()}
    assert got["energy_import"] == (pytest.approx(1234.56), "kWh")
    assert got["voltage_a"] == (pytest.approx(229.9), "V")
    assert got["current_a"] == (pytest.approx(-6.525), "A")  # sign bit: power flows back
    assert got["power"] == (pytest.approx(-1.5), "kW")
    assert got["frequency"] == (pytest.approx(49.98), "Hz")
    assert reading.values["energy_import"].cumulative and not reading.values["power"].cumulative
    assert bus.counters("e1").ok == len(items)


def test_dlt645_energy_advances_with_power(sim_line, meter_bus) -> None:
    line = sim_line([SimDlt645Meter("e1", "000000000001", energy_kwh=10.0, power_kw=3600.0)])
    bus = meter_bus([Dlt645Device(device_id="e1", address="000000000001", items=("energy_import",))])
    first = bus.read("e1").value("energy_import")
    second = bus.read("e1").value("energy_import")
    assert first is not None and second is not None and second > first  # 1 kWh per second
    line.set_value("e1", "power", 0.0)
    third = bus.read("e1").value("energy_import")
    assert bus.read("e1").value("energy_import") == third


def test_cjt188_volume_follows_the_flow(sim_line, meter_bus) -> None:
    line = sim_line([SimCjt188Meter("w1", "00000000000001", volume_m3=42.5, flow_m3h=0.0,
                                    valve="open", battery_low=True)])
    bus = meter_bus([Cjt188Device(device_id="w1", address="00000000000001")])
    reading = bus.read("w1")
    assert reading.ok
    assert reading.values["volume"].value == pytest.approx(42.5)
    assert reading.values["volume"].unit == "m³" and reading.values["volume"].cumulative
    assert reading.attributes["valve"] == "open" and reading.attributes["battery_low"] is True
    assert bus.read("w1").value("volume") == pytest.approx(42.5)  # no flow: no change

    line.set_value("w1", "flow", 36000.0)  # continuous flow: 10 m³ a second
    volumes = [bus.read("w1").value("volume") for _ in range(3)]
    assert volumes[0] < volumes[1] < volumes[2]


def test_cjt188_identifier_high_byte_first(sim_line, meter_bus) -> None:
    sim_line([SimCjt188Meter("w1", "00000000000001", volume_m3=7.0)])
    bus = meter_bus([Cjt188Device(device_id="w1", address="00000000000001", di_low_first=False)])
    assert bus.read("w1").value("volume") == pytest.approx(7.0)


def test_modbus_energy_meter_and_sensor(sim_line, meter_bus) -> None:
    sdm = {"voltage": 231.5, "current": 3.25, "power": 750.0, "frequency": 50.01,
           "energy_import": 1500.25, "energy_total": 1600.5}
    sim_line([SimModbusDevice("sdm", 1, "eastron_sdm120", values=sdm),
              SimModbusDevice("th", 7, "xy_md02", values={"temperature": -3.5, "humidity": 45.2})],
             settings=FAST_8N1)
    bus = meter_bus([ModbusDevice(device_id="sdm", unit=1, register_map="eastron_sdm120"),
                     ModbusDevice(device_id="th", unit=7, register_map="xy_md02")], settings=FAST_8N1)
    sdm_reading = bus.read("sdm")
    assert sdm_reading.ok
    for name, value in sdm.items():
        assert sdm_reading.value(name) == pytest.approx(value, rel=1e-5)
    assert sdm_reading.values["power"].unit == "W" and sdm_reading.values["energy_total"].unit == "kWh"
    th = bus.read("th")
    assert th.value("temperature") == pytest.approx(-3.5) and th.values["temperature"].unit == "°C"
    assert th.value("humidity") == pytest.approx(45.2) and th.values["humidity"].unit == "%"


def test_protocols_share_a_line_with_the_same_settings(sim_line, meter_bus) -> None:
    sim_line([SimDlt645Meter("e1", "000000000001", energy_kwh=5.0),
              SimCjt188Meter("w1", "00000000000001", volume_m3=6.0),
              SimModbusDevice("th", 1, "xy_md02", values={"temperature": 21.0, "humidity": 50.0})])
    bus = meter_bus([Dlt645Device(device_id="e1", address="000000000001", items=("energy_import",)),
                     Cjt188Device(device_id="w1", address="00000000000001"),
                     ModbusDevice(device_id="th", unit=1, register_map="xy_md02")])
    for _ in range(2):
        readings = {r.device_id: r for r in bus.read_all()}
        assert all(r.ok for r in readings.values())
    assert readings["e1"].value("energy_import") == pytest.approx(5.0)
    assert readings["w1"].value("volume") == pytest.approx(6.0)
    assert readings["th"].value("temperature") == pytest.approx(21.0)


def test_broadcast_address_discovery(sim_line, meter_bus) -> None:
    sim_line([SimDlt645Meter("e1", "558890213594"), SimCjt188Meter("w1", "78330011223344")])
    bus = meter_bus([])
    assert bus.discover_dlt645() == "558890213594"
    assert bus.discover_cjt188() == "78330011223344"


def test_cjt188_broadcast_reads_the_only_meter(sim_line, meter_bus) -> None:
    sim_line([SimCjt188Meter("w1", "78330011223344", volume_m3=3.0)])
    bus = meter_bus([Cjt188Device(device_id="w1", address="AAAAAAAAAAAAAA")])
    reading = bus.read("w1")
    assert reading.value("volume") == pytest.approx(3.0)
    assert reading.attributes["meter_address"] == "78330011223344"


def test_unsupported_item_is_an_error_value_not_a_dead_meter(sim_line, meter_bus) -> None:
    sim_line([SimDlt645Meter("e1", "000000000001", unsupported=("frequency",))])
    bus = meter_bus([Dlt645Device(device_id="e1", address="000000000001", items=("energy_import", "frequency"))])
    reading = bus.read("e1")
    assert reading.values["energy_import"].quality is Quality.GOOD
    freq = reading.values["frequency"]
    assert freq.quality is Quality.ERROR and freq.value is None
    assert freq.error == "meter refused frequency (02800002): no data requested"
    assert reading.health.state is HealthState.DEGRADED
    assert "frequency: meter refused frequency" in reading.health.reason
    assert bus.counters("e1").exceptions == 1 and bus.counters("e1").retries == 0
