"""Alerts from readings: backwards register, implausible jump, night leak, comfort limits by season.

The meters are read over the simulated lines with the real drivers; the service's
wall clock is moved by hand, so nights and seasons need no waiting.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from meterservice_helpers import ManualClock, active, alert

from lobby.config.model import ComfortConfig
from lobby.meters.analysis import (
    CONFIRM_READINGS,
    Hysteresis,
    LeakTracker,
    RegisterTracker,
    comfort_limits,
)
from drivers.meters.points import Binding


def detail(store, key: str) -> dict:  # noqa: ANN001
    row = alert(store, key)
    assert row is not None, key
    return json.loads(row["detail"])


# --- registers over the wire ---------------------------------------------------------------------

def test_register_going_backwards_raises_and_a_good_reading_clears(simulated, service, store, clock) -> None:
    cfg, sim = simulated()
    svc = service(cfg)
    sim.set_value("elec-2", "power_total", 0.0)  # hold the register still
    sim.set_value("elec-2", "energy_import", 5000.00)
    svc.poll_once("line-a")
    sim.set_value("elec-2", "energy_import", 4990.00)  # a misread or a tampered meter
    clock.advance(minutes=1)
    svc.poll_once("line-a")
    key = "meter.backwards:elec-2"
    assert active(store, key)
    got = detail(store, key)
    assert (got["point"], got["previous"], got["value"]) == ("energy_import", 5000.0, 4990.0)
    sim.set_value("elec-2", "energy_import", 5000.02)  # reads sensibly again
    clock.advance(minutes=1)
    svc.poll_once("line-a")
    assert not active(store, key)
    # the misread was not accepted: the register and its odometer continue from 5000.00
    row = store.query("SELECT value, odometer FROM meter_registers WHERE meter_id = 'elec-2' "
                      "AND point = 'energy_import'")[0]
    assert row["value"] == 5000.02 and row["odometer"] == pytest.approx(0.02)


def test_a_reset_meter_is_accepted_at_its_new_level_after_confirmation(simulated, service, store, clock) -> None:
    cfg, sim = simulated()
    svc = service(cfg)
    sim.set_value("elec-2", "power_total", 0.0)
    sim.set_value("elec-2", "energy_import", 8000.00)
    svc.poll_once("line-a")
    key = "meter.backwards:elec-2"
    for i in range(CONFIRM_READINGS):  # a replaced meter starts near zero and keeps counting from there
        assert not active(store, key) if i == 0 else active(store, key)
        sim.set_value("elec-2", "energy_import", 1.00 + i)
        clock.advance(minutes=5)
        svc.poll_once("line-a")
    # the third reading at the new level confirms it: accepted, the alert clears (unacknowledged, still shown)
    row = alert(store, key)
    assert row["state"] == "cleared" and row["acked"] == 0
    assert detail(store, key)["previous"] == 8000.0 and detail(store, key)["value"] == 1.0
    sim.set_value("elec-2", "energy_import", 3.50)
    clock.advance(minutes=5)
    svc.poll_once("line-a")
    assert not active(store, key)
    row = store.query("SELECT value, odometer FROM meter_registers WHERE meter_id = 'elec-2'")[0]
    assert row["value"] == 3.5 and row["odometer"] == pytest.approx(2.5)  # 1 -> 3.5 counted, the reset not


def test_implausible_jump_raises_and_clears(simulated, service, store, clock) -> None:
    cfg, sim = simulated()  # elec-1: max_jump_per_h = 100 kWh
    svc = service(cfg)
    sim.set_value("elec-1", "power_total", 0.0)
    sim.set_value("elec-1", "energy_import", 1000.00)
    svc.poll_once("line-a")
    clock.advance(hours=1)
    sim.set_value("elec-1", "energy_import", 1090.00)  # 90 kWh in an hour: plausible
    svc.poll_once("line-a")
    assert alert(store, "meter.jump:elec-1") is None
    clock.advance(minutes=10)
    sim.set_value("elec-1", "energy_import", 1400.00)  # 310 kWh in 10 minutes
    svc.poll_once("line-a")
    key = "meter.jump:elec-1"
    assert active(store, key)
    got = detail(store, key)
    assert got["point"] == "energy_import" and got["max_per_h"] == 100 and got["rate_per_h"] > 1000
    clock.advance(minutes=10)
    sim.set_value("elec-1", "energy_import", 1091.00)  # the jump was a misread: the register reads on
    svc.poll_once("line-a")
    assert not active(store, key)
    assert alert(store, "meter.backwards:elec-1") is None  # measured against the accepted value, not the misread


# --- night leak ----------------------------------------------------------------------------------

def night_of_readings(svc, sim, clock, *, day: int, dry_hour: int | None, volume: float) -> float:  # noqa: ANN001
    """Polls every 30 min from 00:30 to 05:30 on the given November day; water runs unless dry_hour."""
    clock.set_local(2026, 11, day, 0, 30)
    for step in range(11):
        local = dt.datetime(2026, 11, day, 0, 30) + dt.timedelta(minutes=30 * step)
        clock.set_local(local.year, local.month, local.day, local.hour, local.minute)
        sim.set_value("water-1", "volume_total", round(volume, 2))
        svc.poll_once("line-a")
        if local.hour != dry_hour:
            volume += 0.02  # 40 L an hour: a cistern that never stops
    return volume


def test_continuous_night_flow_raises_a_leak_and_a_dry_interval_clears_it(simulated, service, store,
                                                                          clock) -> None:
    cfg, sim = simulated()
    svc = service(cfg)
    volume = night_of_readings(svc, sim, clock, day=26, dry_hour=None, volume=812.63)
    key = "meter.leak:water-1"
    assert active(store, key)
    got = detail(store, key)
    assert got["window"] == "01:00-05:00" and got["intervals_with_flow"] == got["intervals"] == 4
    assert got["night"] == "2026-11-26" and got["night_use"] == pytest.approx(0.16, abs=1e-6)
    # the day goes on with the cistern still running: the alert stays
    for hour in (7, 8):
        clock.set_local(2026, 11, 26, hour, 0)
        volume += 0.05
        sim.set_value("water-1", "volume_total", round(volume, 2))
        svc.poll_once("line-a")
        assert active(store, key)
    # fixed after the 08:00 reading: a whole leak interval (60 min) without any flow clears it
    for minute in (30, 59):
        clock.set_local(2026, 11, 26, 8, minute)
        svc.poll_once("line-a")
        assert active(store, key)
    clock.set_local(2026, 11, 26, 9, 0)
    svc.poll_once("line-a")
    assert not active(store, key)


def test_a_night_with_one_dry_interval_is_no_leak(simulated, service, store, clock) -> None:
    cfg, sim = simulated()
    svc = service(cfg)
    night_of_readings(svc, sim, clock, day=26, dry_hour=3, volume=100.0)
    assert alert(store, "meter.leak:water-1") is None


# --- comfort -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("season_day", "too_cold", "fine"), [
    ((2026, 1, 15, 14, 0), 17.0, 20.0),  # winter: 18-24 °C
    ((2026, 7, 15, 14, 0), 21.0, 23.0),  # summer: 22-24 °C (21 °C is fine in winter, too cold in summer)
])
def test_temperature_out_of_the_seasons_range_raises_and_clears(simulated, service, store, clock, season_day,
                                                                too_cold, fine) -> None:
    cfg, sim = simulated()
    svc = service(cfg)
    clock.set_local(*season_day)
    key = "comfort.temperature:th-1"
    sim.set_value("th-1", "temperature", too_cold)
    for i in range(cfg.meters[4].comfort_readings):
        assert not active(store, key)
        svc.poll_once("line-b")
        clock.advance(minutes=1)
    assert active(store, key)
    got = detail(store, key)
    assert got["value"] == too_cold and got["season"] in ("winter", "summer")
    assert alert(store, key)["severity"] == "info"
    sim.set_value("th-1", "temperature", fine)
    for _ in range(cfg.meters[4].comfort_readings):
        assert active(store, key)
        svc.poll_once("line-b")
        clock.advance(minutes=1)
    assert not active(store, key)


def test_humidity_outside_40_to_60_percent_raises_and_clears(simulated, service, store, clock) -> None:
    cfg, sim = simulated()
    svc = service(cfg)
    key = "comfort.humidity:th-1"
    sim.set_value("th-1", "temperature", 21.0)
    sim.set_value("th-1", "humidity", 72.5)
    for _ in range(3):
        svc.poll_once("line-b")
    assert active(store, key) and detail(store, key)["max"] == 60
    sim.set_value("th-1", "humidity", 59.5)  # back in range, but inside the 1 % margin: no verdict yet
    for _ in range(3):
        svc.poll_once("line-b")
    assert active(store, key)
    sim.set_value("th-1", "humidity", 50.0)
    for _ in range(3):
        svc.poll_once("line-b")
    assert not active(store, key)
    assert alert(store, "comfort.temperature:th-1") is None


# --- the rules on their own ----------------------------------------------------------------------

def test_hysteresis_reports_transitions_only_and_ignores_no_verdict() -> None:
    h = Hysteresis(raise_after=2, clear_after=2)
    assert [h.observe(x) for x in (True, None, True, True, False, True, False, False, False)] == \
        [None, None, "raise", None, None, None, None, "clear", None]


def test_a_bcd_register_rolling_over_is_consumption_not_backwards() -> None:
    t0 = dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc)
    tracker = RegisterTracker(Binding("energy_import", "energy_import", rollover=1_000_000.0), 100.0, None)
    tracker.update(999_999.50, t0)
    verdict = tracker.update(0.70, t0 + dt.timedelta(minutes=30))
    assert verdict.accepted and verdict.suspicious is None and verdict.delta == pytest.approx(1.2)
    assert tracker.state is not None and tracker.state.odometer == pytest.approx(1.2)


def test_leak_window_may_run_past_midnight_and_gaps_give_no_verdict() -> None:
    tracker = LeakTracker(dt.time(23, 0), dt.time(1, 0), 60)
    base = dt.datetime(2026, 11, 25, 22, 30)
    verdicts = []
    for step, volume in enumerate((10.0, 10.1, 10.2, 10.3, 10.4, 10.5)):
        verdicts.append(tracker.observe(base + dt.timedelta(minutes=30 * step), volume, None)[0])
    assert verdicts[-1] is True  # 23:00-00:00 and 00:00-01:00 both had flow; judged at 01:00
    gappy = LeakTracker(dt.time(1, 0), dt.time(5, 0), 60)
    start = dt.datetime(2026, 11, 26, 1, 0)
    for hours, volume in ((0, 1.0), (1, 1.1), (4, 1.5)):  # nothing read between 02:00 and 05:00
        verdict, _ = gappy.observe(start + dt.timedelta(hours=hours), volume, None)
    assert verdict is None


def test_comfort_limits_follow_the_configured_seasons() -> None:
    comfort = ComfortConfig()
    assert comfort_limits("temperature", dt.date(2026, 12, 31), comfort)[:2] == (18, 24)
    assert comfort_limits("temperature", dt.date(2026, 3, 15), comfort)[:2] == (18, 24)
    assert comfort_limits("temperature", dt.date(2026, 8, 1), comfort)[:2] == (22, 24)
    assert comfort_limits("temperature", dt.date(2026, 4, 20), comfort)[2] == "between seasons"
    assert comfort_limits("humidity", dt.date(2026, 8, 1), comfort)[:2] == (40, 60)
    assert comfort_limits("noise", dt.date(2026, 8, 1), comfort)[1] == 50


def test_noise_from_a_sensor_map_is_checked(tmp_path, store, alerts, clock) -> None:  # noqa: ANN001
    from meterservice_helpers import make_config

    from lobby.meters import MeterService, start_simulation

    regmap = tmp_path / "noise.toml"
    regmap.write_text('name = "noise_sensor"\n[defaults]\nfunction = "holding"\n'
                      '[[register]]\nname = "noise"\naddress = 0\ntype = "u16"\nscale = 0.1\nunit = "dB"\n')
    lines = f"""
[[buses]]
id = "line-n"
port = "/dev/unused"
baudrate = 115200
parity = "N"
timeout_ms = 100
[[meters]]
id = "noise-1"
bus = "line-n"
protocol = "modbus"
address = "9"
map = "{regmap}"
comfort_readings = 1
interval_s = {{interval}}
"""
    cfg, sim = start_simulation(make_config(tmp_path / "state", lines=lines), seed=1, drift=False)
    svc = MeterService(cfg, store, alerts, clock=clock, run_daily=False)
    try:
        sim.set_value("noise-1", "noise", 63.0)
        svc.poll_once()
        assert active(store, "comfort.noise:noise-1")
        sim.set_value("noise-1", "noise", 42.0)
        svc.poll_once()
        assert not active(store, "comfort.noise:noise-1")
        assert svc.meters["noise-1"].kind == "environment"
    finally:
        svc.stop()
        sim.stop()


def test_clock_fixture_is_in_site_time(clock: ManualClock) -> None:
    assert clock().astimezone(dt.timezone(dt.timedelta(hours=8))).hour == 10
