"""The simulators themselves: configuration, control commands, the runnable module."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from drivers.meters.bus import MeterBus
from drivers.meters.devices import Cjt188Device, Dlt645Device
from drivers.meters.sim import Fault, SimCjt188Meter, SimDlt645Meter, SimModbusDevice, build_device, load_config
from drivers.meters.sim.__main__ import run_command
from drivers.meters.sim.models import Accumulator

ROOT = Path(__file__).resolve().parents[3]


def test_accumulator_integrates_its_rate() -> None:
    acc = Accumulator(100.0, rate_per_hour=3600.0)
    start = acc.value()
    assert acc.value(now=time.monotonic() + 2.0) - start == pytest.approx(2.0, abs=0.1)
    acc.set_rate(0.0)
    frozen = acc.value()
    assert acc.value() == frozen
    acc.set_total(5.0)
    assert acc.value() == 5.0


def test_config_builds_a_mixed_line(tmp_path: Path) -> None:
    config = tmp_path / "line.toml"
    config.write_text('serial = "9600 8E1"\ntime_scale = 60\n'
                      '[[device]]\nid = "e1"\nprotocol = "dlt645"\naddress = "000000000001"\npower_kw = 2.0\n'
                      '[[device]]\nid = "w1"\nprotocol = "cjt188"\naddress = "00000000000001"\nflow_m3h = 0.02\n'
                      '[[device]]\nid = "s1"\nprotocol = "modbus"\nunit = 3\nmap = "eastron_sdm630"\n'
                      'values = { voltage_l1 = 230.0 }\n', encoding="utf-8")
    settings, devices = load_config(config)
    assert str(settings) == "9600 8E1"
    assert [type(d) for d in devices] == [SimDlt645Meter, SimCjt188Meter, SimModbusDevice]
    assert devices[1].values()["flow"] == pytest.approx(0.02)
    assert devices[2].values()["voltage_l1"] == pytest.approx(230.0)


@pytest.mark.parametrize("name", ["dlt645_cjt188_line.toml", "modbus_line.toml"])
def test_shipped_example_lines_load(name: str) -> None:
    settings, devices = load_config(ROOT / "drivers" / "meters" / "sim" / "examples" / name)
    assert len(devices) >= 2 and settings.bits_per_char in (10, 11)


@pytest.mark.parametrize(("entry", "message"), [
    ({"id": "x", "protocol": "mbus"}, "device 'x': protocol must be one of"),
    ({"id": "x", "protocol": "dlt645"}, "device 'x': key 'address' is required"),
    ({"id": "x", "protocol": "cjt188", "address": "00000000000001", "colour": 1}, "unknown key 'colour'"),
])
def test_config_errors_name_the_device_and_key(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_device(entry)


def test_control_commands(sim_line) -> None:
    line = sim_line([SimCjt188Meter("w1", "00000000000001")])
    assert run_command(line, "fault w1 slow slow_s=2.5 times=3") == "ok w1 slow"
    assert line.device("w1").fault.fault is Fault.SLOW and line.device("w1").fault.slow_s == 2.5
    assert run_command(line, "set w1 flow 0.5") == "ok w1 flow=0.5"
    assert line.device("w1").values()["flow"] == 0.5
    assert run_command(line, "set w1 valve closed") == "ok w1 valve=closed"
    assert '"valve": "closed"' in run_command(line, "show")
    assert run_command(line, "port close") == "ok port closed" and not line.port_open
    assert run_command(line, "port open") == "ok port open" and line.port_open
    with pytest.raises(ValueError, match="unknown command"):
        run_command(line, "explode")
    with pytest.raises(KeyError):
        run_command(line, "set nobody flow 1")


def test_runnable_module_serves_the_real_driver(tmp_path: Path) -> None:
    link = tmp_path / "ttyDEMO"
    proc = subprocess.Popen(
        [sys.executable, "-m", "drivers.meters.sim", "--link", str(link), "--protocol", "dlt645",
         "--address", "000000000007", "--serial", "115200 8E1", "--log-level", "WARNING"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().startswith(f"ready {link} 115200 8E1")
        with MeterBus(str(link), "115200 8E1") as bus:
            bus.add(Dlt645Device(device_id="e7", address="000000000007"))
            assert bus.read("e7").ok
            proc.stdin.write("fault dlt645-1 abnormal\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "ok dlt645-1 abnormal"
            assert bus.read("e7").values["energy_import"].error.startswith("meter refused energy_import")
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_two_lines_do_not_mix(tmp_path: Path, sim_line) -> None:
    """A second, independent line (its own pty) answers only its own meters."""
    from drivers.meters.sim import SimBus

    sim_line([SimCjt188Meter("w1", "00000000000001", volume_m3=1.0)])
    other_link = tmp_path / "ttyOTHER"
    with SimBus(other_link, "115200 8E1", [SimCjt188Meter("w2", "00000000000002", volume_m3=2.0)]):
        with MeterBus(str(other_link), "115200 8E1") as bus:
            bus.add(Cjt188Device(device_id="w1", address="00000000000001", timeout=0.1, retries=0))
            bus.add(Cjt188Device(device_id="w2", address="00000000000002"))
            assert not bus.read("w1").ok
            assert bus.read("w2").value("volume") == pytest.approx(2.0)
