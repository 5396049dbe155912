"""Misbehaving meters and a vanishing port: the healthy meters are still read every cycle."""

from __future__ import annotations

import time

import pytest
from meters_testing import FAST_8N1

from drivers.health import DeviceHealth, HealthState
from drivers.meters import dlt645
from drivers.meters.devices import Dlt645Device, ModbusDevice
from drivers.meters.exchanges import FailKind, plan, scan
from drivers.meters.reading import Quality
from drivers.meters.sim import Fault, FaultSpec, SimDlt645Meter, SimModbusDevice

ADDRESSES = {"good-1": "000000000001", "dead": "000000000002", "noisy": "000000000003", "good-2": "000000000004"}


def dlt_device(device_id: str, **kwargs: object) -> Dlt645Device:
    options: dict[str, object] = {"items": ("energy_import", "power")}
    options.update(kwargs)
    return Dlt645Device(device_id=device_id, address=ADDRESSES[device_id], **options)  # type: ignore[arg-type]


@pytest.fixture
def four_meters(sim_line, meter_bus):
    line = sim_line([SimDlt645Meter(i, a, energy_kwh=100.0 + n) for n, (i, a) in enumerate(ADDRESSES.items())])
    bus = meter_bus([dlt_device(i, timeout=0.1 if i in ("dead", "noisy") else 1.0) for i in ADDRESSES],
                    lost_after=2)
    return line, bus


def test_dead_and_garbage_meters_do_not_stop_the_healthy_ones(four_meters) -> None:
    line, bus = four_meters
    line.set_fault("dead", Fault.NO_REPLY)
    line.set_fault("noisy", Fault.GARBAGE)
    changes: list[DeviceHealth] = []
    bus.subscribe(changes.append)
    for _ in range(4):
        readings = {r.device_id: r for r in bus.read_all()}
        assert readings["good-1"].ok and readings["good-2"].ok
        assert readings["good-1"].value("energy_import") == pytest.approx(100.0, abs=0.01)
        assert not readings["dead"].ok and not readings["noisy"].ok

    dead, noisy = bus.counters("dead"), bus.counters("noisy")
    assert dead.timeouts >= 2 and dead.ok == 0 and dead.malformed == 0 and dead.checksum_errors == 0
    assert noisy.malformed >= 2 and noisy.ok == 0
    assert bus.counters("good-1").timeouts == 0 and bus.counters("good-1").ok == 8

    assert bus.health("dead").state is HealthState.LOST
    assert bus.offline_reason("dead").startswith("meter does not answer: no reply within 0.10 s")
    assert bus.health("noisy").state is HealthState.LOST
    assert bus.offline_reason("noisy").startswith("replies are unreadable: ")
    assert bus.offline_reason("good-1") is None
    assert [c.state for c in changes if c.device_id == "dead"] == [HealthState.DEGRADED, HealthState.LOST]
    assert {c.device_id for c in changes} == set(ADDRESSES)

    # While backed off, the lost meters cost the line nothing.
    asked = line.requests["dead"]
    bus.read("dead")
    assert line.requests["dead"] == asked and bus.counters("dead").skipped_polls >= 1


def test_lost_meter_comes_back_after_its_backoff(four_meters) -> None:
    line, bus = four_meters
    line.set_fault("dead", Fault.NO_REPLY)
    while bus.health("dead").state is not HealthState.LOST:
        bus.read("dead")
    line.set_fault("dead", Fault.NONE)
    deadline = time.monotonic() + 10
    while bus.health("dead").state is not HealthState.OK and time.monotonic() < deadline:
        bus.read("dead")
        time.sleep(0.05)
    assert bus.health("dead").state is HealthState.OK


def test_stale_values_carry_their_read_time(four_meters) -> None:
    line, bus = four_meters
    good = bus.read("dead")
    line.set_fault("dead", Fault.NO_REPLY)
    stale = bus.read("dead")
    value = stale.values["energy_import"]
    assert value.quality is Quality.STALE
    assert value.value == good.value("energy_import")
    assert value.read_mono == good.values["energy_import"].read_mono
    assert value.error.startswith("meter does not answer")
    assert stale.values["power"].error.startswith("not asked: meter does not answer")  # not asked twice


@pytest.mark.parametrize(("fault", "counter", "reason"), [
    (Fault.BAD_CHECKSUM, "checksum_errors", "replies are corrupted: bad checksum: expected"),
    (Fault.WRONG_ADDRESS, "wrong_address", "a different meter answers: reply came from address 000000000000, "
                                           "expected 000000000002"),
    (Fault.SLOW, "timeouts", "meter does not answer"),
])
def test_fault_counters_and_reasons(four_meters, fault: Fault, counter: str, reason: str) -> None:
    line, bus = four_meters
    line.set_fault("dead", FaultSpec(fault, slow_s=0.4))
    readings = {r.device_id: r for r in bus.read_all()}
    assert readings["good-1"].ok and readings["good-2"].ok
    counters = bus.counters("dead")
    assert getattr(counters, counter) >= 2 and counters.ok == 0
    assert counters.retries >= 1
    assert bus.health("dead").state is HealthState.DEGRADED
    assert bus.health("dead").reason.startswith(reason)


def test_abnormal_reply_is_a_refusal_not_silence(four_meters) -> None:
    line, bus = four_meters
    line.set_fault("dead", FaultSpec(Fault.ABNORMAL, code=0x04))
    for _ in range(3):
        reading = bus.read("dead")
    counters = bus.counters("dead")
    assert counters.exceptions == 6 and counters.retries == 0 and counters.timeouts == 0
    assert reading.health.state is HealthState.DEGRADED  # it answers, so it is not lost
    assert reading.health.reason == "meter refused energy_import (00010000): wrong password or not authorised"


def test_one_bad_reply_is_retried(four_meters) -> None:
    line, bus = four_meters
    line.set_fault("dead", FaultSpec(Fault.BAD_CHECKSUM, times=1))
    reading = bus.read("dead")
    assert reading.ok
    counters = bus.counters("dead")
    assert (counters.checksum_errors, counters.retries, counters.ok) == (1, 1, 2)
    assert reading.health.state is HealthState.DEGRADED
    assert "needed 2 attempts" in reading.health.reason
    assert bus.read("dead").health.state is HealthState.OK


def test_modbus_exception_and_wrong_unit(sim_line, meter_bus) -> None:
    line = sim_line([SimModbusDevice("a", 1, "xy_md02", values={"temperature": 20.0}),
                     SimModbusDevice("b", 2, "xy_md02", values={"temperature": 30.0})], settings=FAST_8N1)
    bus = meter_bus([ModbusDevice(device_id="a", unit=1, register_map="xy_md02", timeout=0.1),
                     ModbusDevice(device_id="b", unit=2, register_map="xy_md02")], settings=FAST_8N1)
    line.set_fault("a", FaultSpec(Fault.ABNORMAL, code=0x02))
    reading = bus.read("a")
    assert reading.values["temperature"].error == "exception 02 (illegal data address) reading registers 0001..0002"
    assert bus.counters("a").exceptions == 1
    line.set_fault("a", Fault.WRONG_ADDRESS)
    bus.read("a")
    assert bus.counters("a").wrong_address == 2
    assert bus.health("a").reason.startswith("a different meter answers: reply came from unit 2, expected 1")
    line.set_fault("a", Fault.BAD_CHECKSUM)
    bus.read("a")
    assert bus.counters("a").checksum_errors == 2
    assert bus.read("b").value("temperature") == pytest.approx(30.0)


def test_port_closed_and_reopened_recovers(four_meters) -> None:
    line, bus = four_meters
    before = {r.device_id: r for r in bus.read_all()}
    assert all(r.ok for r in before.values())
    line.close_port()
    during = bus.read("good-1")
    assert during.health.state is HealthState.LOST
    assert during.health.reason.startswith(f"serial port {bus.port} unavailable")
    assert during.values["energy_import"].quality is Quality.STALE
    assert bus.counters("good-1").port_errors == 1
    assert all(bus.health(i).state is HealthState.LOST for i in ADDRESSES)
    deadline = time.monotonic() + 5  # once the port backoff has passed, reopening fails: no link
    while "cannot open" not in bus.read("good-2").health.reason and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "cannot open" in bus.health("good-2").reason
    line.open_port()
    deadline = time.monotonic() + 5
    while not bus.read("good-1").ok and time.monotonic() < deadline:
        time.sleep(0.05)
    after = {r.device_id: r for r in bus.read_all()}
    assert after["good-1"].ok and after["good-2"].ok
    assert bus.health("good-1").state is HealthState.OK and bus.port_reason == ""


def test_port_missing_at_start_is_reported_not_raised(link, sim_line, meter_bus) -> None:
    bus = meter_bus([dlt_device("good-1")])
    reading = bus.read("good-1")
    assert reading.health.state is HealthState.LOST
    assert reading.health.reason.startswith(f"serial port {link} unavailable: cannot open {link}")
    assert reading.values["energy_import"].quality is Quality.ERROR
    sim_line([SimDlt645Meter("good-1", ADDRESSES["good-1"])])
    deadline = time.monotonic() + 5
    while not bus.read("good-1").ok and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bus.read("good-1").ok


def test_scanner_skips_echo_and_noise() -> None:
    device = Dlt645Device(device_id="e", address="558890213594", items=("energy_import",))
    (exchange,) = plan(device)
    reply = bytes.fromhex("FE FE FE FE 68 94 35 21 90 88 55 68 91 08 33 33 34 33 59 35 33 33 81 16")
    result = scan(exchange.request + b"\x68\x00\x13\x37" + reply + b"\xff", exchange)
    assert result.answer is not None and result.answer.values == {"energy_import": pytest.approx(2.26)}
    assert result.end - result.start == len(reply)
    other = dlt645.build_read_reply("558890213595", 0x00010000, b"\x00\x00\x00\x00")
    miss = scan(other, exchange)
    assert miss.answer is None and miss.observations[0].kind is FailKind.WRONG_ADDRESS


def test_reply_still_arriving_is_not_rejected_for_what_its_payload_looks_like() -> None:
    """Register values that look like a frame header (01 04 ...) must not end the wait early."""
    from pymodbus.pdu.register_message import ReadInputRegistersResponse

    from drivers.meters import modbus_rtu

    device = ModbusDevice(device_id="m", unit=1, register_map="eastron_sdm120")
    exchange = plan(device)[0]  # 32 registers
    registers = [0x0104, 0x0400, 0x0001, 0x0104, 0x0200] + [0x0104] * 27
    reply = modbus_rtu.encode_response(1, ReadInputRegistersResponse(registers=registers))
    for cut in range(1, len(reply)):
        partial = scan(reply[:cut], exchange)
        assert partial.answer is None and not partial.final, cut
    assert scan(reply, exchange).answer is not None
