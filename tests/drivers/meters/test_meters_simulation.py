"""MeterSimulation from plain bus and meter specs (no product configuration), read by the real bus driver."""

from __future__ import annotations

from pathlib import Path

import pytest
from meters_testing import FAST_8E1

from drivers.meters.bus import MeterBus
from drivers.meters.devices import Cjt188Device, Dlt645Device, ModbusDevice
from drivers.meters.points import load_map
from drivers.meters.sim import Fault, MeterSimulation, SimBusSpec, SimMeterSpec
from drivers.sim.control import ControlClient, ControlError

SPECS = [
    SimBusSpec("line-a", FAST_8E1, (SimMeterSpec("elec-1", "dlt645", "000000000001"),
                                    SimMeterSpec("water-1", "cjt188", "00000000000001", meter_type=0x11))),
    SimBusSpec("line-b", FAST_8E1, (SimMeterSpec("sdm-1", "modbus", "1", register_map="sdm120"),)),
]


def test_lines_from_specs_answer_the_bus_driver_in_canonical_units(tmp_path: Path) -> None:
    with MeterSimulation(SPECS, tmp_path, seed=3, drift=False).start() as sim:
        assert sim.links == {"line-a": tmp_path / "line-a", "line-b": tmp_path / "line-b"}
        sim.set_value("elec-1", "energy_import", 1234.5)
        sim.set_value("elec-1", "power_total", 0.0)
        sim.set_value("sdm-1", "power_total", 2.5)  # kW; the SDM120 register holds W
        assert sim.device("sdm-1").values()["power"] == pytest.approx(2500.0)
        assert sim.value("sdm-1", "power_total") == pytest.approx(2.5)

        line_a = MeterBus(str(sim.links["line-a"]), FAST_8E1)
        line_b = MeterBus(str(sim.links["line-b"]), FAST_8E1)
        try:
            line_a.add(Dlt645Device(device_id="elec-1", address="000000000001", items=("energy_import",)))
            line_a.add(Cjt188Device(device_id="water-1", address="00000000000001", meter_type=0x11))
            line_b.add(ModbusDevice(device_id="sdm-1", unit=1, register_map=load_map("sdm120")))
            assert line_a.read("elec-1").value("energy_import") == pytest.approx(1234.5)
            assert line_a.read("water-1").value("volume") == pytest.approx(sim.value("water-1", "volume_total"),
                                                                           abs=0.011)
            assert line_b.read("sdm-1").value("power") == pytest.approx(2500.0, rel=1e-3)

            sim.set_fault("elec-1", Fault.NO_REPLY)
            assert not line_a.read("elec-1").ok
            sim.clear_fault("elec-1")
            assert line_a.read("elec-1").ok
        finally:
            line_a.close()
            line_b.close()


def test_the_control_socket_speaks_canonical_points(tmp_path: Path) -> None:
    sim = MeterSimulation(SPECS, tmp_path, seed=3, drift=False).start()
    try:
        sim.serve(tmp_path / "meters.sock")
        with ControlClient(tmp_path / "meters.sock") as client:
            listed = client.request({"cmd": "list"})
            assert listed["buses"] == ["line-a", "line-b"]
            assert listed["meters"]["water-1"] == {"bus": "line-a", "protocol": "cjt188"}
            client.request({"cmd": "leak", "meter": "water-1", "flow_m3h": 0.05})
            assert client.request({"cmd": "value", "meter": "water-1", "point": "flow_rate"})["value"] == 0.05
            with pytest.raises(ControlError, match="no point"):
                client.request({"cmd": "set", "meter": "elec-1", "point": "temperature", "value": 20})
            with pytest.raises(ControlError, match="unknown meter"):
                client.request({"cmd": "clear", "meter": "nobody"})
    finally:
        sim.stop()
    assert not (tmp_path / "meters.sock").exists()
