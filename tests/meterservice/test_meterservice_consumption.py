"""Daily and monthly consumption from the cumulative registers, cut at site-local midnight, published once."""

from __future__ import annotations

import pytest
from meterservice_helpers import outbox_events

from lobby.meters import MeterService
from mqtt_bridge.store import Lane

# One quick line with two electricity meters reading only their billing register.
BILLING = """
[[buses]]
id = "line-a"
port = "/dev/unused-a"
baudrate = 115200
timeout_ms = 100
frame_gap_ms = 2
lost_retry_s = 0.05
lost_retry_max_s = 0.1
[[meters]]
id = "elec-1"
bus = "line-a"
protocol = "dlt645"
address = "1"
points = ["energy_import"]
interval_s = {interval}
[[meters]]
id = "elec-2"
bus = "line-a"
protocol = "dlt645"
address = "2"
points = ["energy_import"]
interval_s = {interval}
"""


def consumption(store, meter_id: str) -> dict[tuple[str, str], dict]:  # noqa: ANN001
    out = {}
    for event in outbox_events(store, "meter.consumption"):
        data = event["envelope"]["data"]
        assert event["lane"] == int(Lane.CRITICAL)  # billing records are never thinned
        if data["meter_id"] == meter_id:
            key = (data["period"], data["start"])
            assert key not in out, f"published twice: {key}"
            out[key] = data
    return out


def read_at(svc, sim, clock, local: tuple[int, ...], values: dict[str, float]) -> None:  # noqa: ANN001
    clock.set_local(*local)
    for meter_id, value in values.items():
        sim.set_value(meter_id, "energy_import", value)
    svc.poll_once("line-a")


def test_days_and_months_are_cut_at_site_midnight_and_published_once(simulated, service, store, clock,
                                                                     alerts) -> None:
    cfg, sim = simulated(lines=BILLING)
    for meter_id in ("elec-1", "elec-2"):
        sim.set_value(meter_id, "power_total", 0.0)  # registers move only when the test says so
    svc = service(cfg)
    # 30 November: first read late in the evening (the gateway was installed that day)
    read_at(svc, sim, clock, (2026, 11, 30, 23, 50), {"elec-1": 500.00, "elec-2": 100.00})
    # 1 December 00:01 Shanghai is still 30 November in UTC: the edge must follow site time
    read_at(svc, sim, clock, (2026, 12, 1, 0, 1), {"elec-1": 500.40, "elec-2": 101.00})
    read_at(svc, sim, clock, (2026, 12, 1, 12, 0), {"elec-1": 505.00, "elec-2": 110.00})
    sim.set_fault("elec-1", "no_reply")  # elec-1 misses midnight
    read_at(svc, sim, clock, (2026, 12, 1, 23, 59), {"elec-2": 120.00})
    read_at(svc, sim, clock, (2026, 12, 2, 0, 2), {"elec-2": 121.50})

    clock.set_local(2026, 12, 2, 0, 3)
    assert svc.daily_job() == 5  # elec-2: 30 Nov, 1 Dec, November; elec-1: 30 Nov, November (1 Dec waits)
    got = consumption(store, "elec-2")
    day1 = got[("day", "2026-12-01")]
    assert (day1["consumption"], day1["first"], day1["last"], day1["complete"]) == (20.5, 101.0, 121.5, True)
    assert day1["point"] == "energy_import" and day1["unit"] == "kWh"
    nov30 = got[("day", "2026-11-30")]
    assert (nov30["consumption"], nov30["complete"]) == (1.0, False)  # first reading only at 23:50
    november = got[("month", "2026-11")]
    assert (november["consumption"], november["complete"]) == (1.0, False)
    assert ("month", "2026-12") not in got  # the month is not over
    assert consumption(store, "elec-1") == {("day", "2026-11-30"): consumption(store, "elec-1")[("day", "2026-11-30")],
                                            ("month", "2026-11"): consumption(store, "elec-1")[("month", "2026-11")]}

    # past the edge window (5 min for a 60 s meter) elec-1's day is published without its closing edge
    clock.set_local(2026, 12, 2, 0, 10)
    assert svc.daily_job() == 1
    dec1 = consumption(store, "elec-1")[("day", "2026-12-01")]
    assert (dec1["first"], dec1["last"], dec1["consumption"], dec1["complete"]) == (500.4, 505.0, 4.6, False)
    assert svc.daily_job() == 0

    # a restart: the store remembers what was published and the registers' odometers
    svc.stop()
    # (a restarted gateway opens the line afresh; a pty that was already opened at 8E1 cannot be
    # reconfigured on this kernel, so the simulated adapter is re-plugged, as the process restart would)
    sim.port_down("line-a")
    sim.port_up("line-a")
    again = MeterService(cfg, store, alerts, clock=clock, run_daily=False)
    try:
        assert again.daily_job() == 0
        sim.set_value("elec-2", "energy_import", 122.00)
        clock.set_local(2026, 12, 2, 0, 30)
        again.poll_once("line-a")
        row = store.query("SELECT odometer FROM meter_registers WHERE meter_id = 'elec-2'")[0]
        assert row["odometer"] == pytest.approx(22.0)  # 100.00 -> 122.00 across the restart
    finally:
        again.stop()
    assert store.scalar("SELECT count(*) FROM meter_consumption") == \
        store.scalar("SELECT count(*) FROM outbox WHERE type = 'meter.consumption'") == 6


def test_a_month_with_both_edges_on_time_is_complete_and_days_add_up(simulated, service, store, clock) -> None:
    cfg, sim = simulated(lines=BILLING)
    sim.set_value("elec-2", "power_total", 0.0)
    sim.set_value("elec-1", "power_total", 0.0)
    svc = service(cfg)
    value = 1000.0
    for day in range(1, 29):  # February 2026, read just after each midnight
        read_at(svc, sim, clock, (2026, 2, day, 0, 1), {"elec-2": round(value, 2)})
        value += 4.75
    read_at(svc, sim, clock, (2026, 3, 1, 0, 1), {"elec-2": round(value, 2)})
    clock.set_local(2026, 3, 1, 0, 2)
    svc.daily_job()
    got = consumption(store, "elec-2")
    month = got[("month", "2026-02")]
    assert month["complete"] is True and month["consumption"] == pytest.approx(28 * 4.75)
    days = [got[("day", f"2026-02-{d:02d}")] for d in range(1, 29)]
    assert all(d["complete"] for d in days)
    assert sum(d["consumption"] for d in days) == pytest.approx(month["consumption"])


def test_a_meter_reset_inside_a_day_does_not_make_consumption_negative(simulated, service, store, clock) -> None:
    cfg, sim = simulated(lines=BILLING)
    sim.set_value("elec-2", "power_total", 0.0)
    svc = service(cfg)
    read_at(svc, sim, clock, (2026, 5, 10, 0, 1), {"elec-2": 9000.0})
    read_at(svc, sim, clock, (2026, 5, 10, 8, 0), {"elec-2": 9010.0})
    for hour, value in ((9, 0.5), (10, 1.0), (11, 2.0), (20, 6.0)):  # replaced meter
        read_at(svc, sim, clock, (2026, 5, 10, hour, 0), {"elec-2": value})
    read_at(svc, sim, clock, (2026, 5, 11, 0, 1), {"elec-2": 7.0})
    svc.daily_job()
    day = consumption(store, "elec-2")[("day", "2026-05-10")]
    assert day["consumption"] == pytest.approx(10.0 + 6.5)  # 9000 -> 9010, then 0.5 -> 7.0
    assert (day["first"], day["last"]) == (9000.0, 7.0)
