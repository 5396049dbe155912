"""Real line speeds, where timing matters: the driver's deadlines and gaps come from wire time.

No assertion here compares a measured duration with a threshold; they check that
the driver's timing *decisions* follow the line settings, and that a reply longer
on the wire than the device timeout is still received.
"""

from __future__ import annotations

import pytest

from drivers.meters.bus import TransactionTrace
from drivers.meters.devices import Cjt188Device, Dlt645Device, ModbusDevice
from drivers.meters.serial_settings import SerialSettings
from drivers.meters.sim import SimCjt188Meter, SimDlt645Meter, SimModbusDevice

SLOW_8E1 = SerialSettings(2400, 8, "E", 1)
MODBUS_9600 = SerialSettings(9600, 8, "N", 1)


def test_serial_arithmetic() -> None:
    assert SLOW_8E1.bits_per_char == 11 and MODBUS_9600.bits_per_char == 10
    assert SLOW_8E1.wire_time(24) == pytest.approx(24 * 11 / 2400)
    assert MODBUS_9600.modbus_t35 == pytest.approx(3.5 * 10 / 9600)
    assert SerialSettings(38400, 8, "N", 1).modbus_t35 == pytest.approx(0.00175)
    assert SerialSettings.parse("2400-8E1") == SLOW_8E1
    with pytest.raises(ValueError):
        SerialSettings.parse("2400 8X1")


def test_dlt645_and_cjt188_at_2400_8e1(sim_line, meter_bus) -> None:
    traces: list[TransactionTrace] = []
    sim_line([SimDlt645Meter("e1", "000000000001", energy_kwh=321.09, reply_delay=0.02),
              SimCjt188Meter("w1", "00000000000001", volume_m3=12.34, reply_delay=0.02)], settings=SLOW_8E1)
    # 0.05 s is less than either reply needs on the wire at 2400 baud (about 0.11 and 0.18 s):
    # the read deadline must add the reply's wire time to the device timeout.
    bus = meter_bus([Dlt645Device(device_id="e1", address="000000000001", items=("energy_import",),
                                  timeout=0.05, retries=0),
                     Cjt188Device(device_id="w1", address="00000000000001", timeout=0.05, retries=0)],
                    settings=SLOW_8E1, trace=traces.append)
    readings = {r.device_id: r for r in bus.read_all()}
    assert readings["e1"].value("energy_import") == pytest.approx(321.09)
    assert readings["w1"].value("volume") == pytest.approx(12.34)
    assert [t.outcome for t in traces] == ["ok", "ok"]
    assert [t.tx_bytes for t in traces] == [20, 20]  # FE x4 + 16-byte request, both protocols
    assert [t.rx_bytes for t in traces] == [24, 39]  # replies with their FE x4 wake-up preamble
    assert all(t.gap_s == bus.frame_gap for t in traces)


def test_modbus_at_9600_uses_the_3_5_character_gap(sim_line, meter_bus) -> None:
    traces: list[TransactionTrace] = []
    sim_line([SimModbusDevice("s1", 1, "eastron_sdm120", values={"voltage": 230.0, "energy_total": 9.5})],
             settings=MODBUS_9600)
    bus = meter_bus([ModbusDevice(device_id="s1", unit=1, register_map="eastron_sdm120", timeout=0.05)],
                    settings=MODBUS_9600, trace=traces.append)
    reading = bus.read("s1")
    assert reading.ok and reading.value("energy_total") == pytest.approx(9.5)
    assert [(t.tx_bytes, t.rx_bytes) for t in traces] == [(8, 69), (8, 17), (8, 9)]
    assert all(t.gap_s == pytest.approx(MODBUS_9600.modbus_t35) for t in traces)


def test_mixed_line_uses_the_larger_gap(sim_line, meter_bus) -> None:
    traces: list[TransactionTrace] = []
    sim_line([SimDlt645Meter("e1", "000000000001"),
              SimModbusDevice("t1", 1, "xy_md02", values={"temperature": 20.0})], settings=MODBUS_9600)
    bus = meter_bus([ModbusDevice(device_id="t1", unit=1, register_map="xy_md02"),
                     Dlt645Device(device_id="e1", address="000000000001", items=("energy_import",))],
                    settings=MODBUS_9600, trace=traces.append)
    bus.read_all()
    bus.read("t1")
    assert [t.outcome for t in traces] == ["ok", "ok", "ok"]
    assert [t.gap_s for t in traces] == [pytest.approx(MODBUS_9600.modbus_t35), bus.frame_gap, bus.frame_gap]
