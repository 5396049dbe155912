"""Wall-clock jumps (NTP steps, a wrong manual setting) neither fire nor lose a patrol window; a reboot falls back to wall time."""

from __future__ import annotations

import pytest

from lobby.patrol import ManualClock, PatrolEngine
from mqtt_bridge.store import Store
from tests.patrol.patrol_helpers import WANG, alert_rows


def _tick_for(engine: PatrolEngine, clock: ManualClock, seconds: float, step: float = 30) -> list[float]:
    """Let `seconds` of real (monotonic) time pass in steps; return the offsets at which something was missed."""
    fired, elapsed = [], 0.0
    while elapsed < seconds:
        clock.advance(step)
        elapsed += step
        result = engine.tick()
        if result.missed or result.not_started:
            fired.append(elapsed)
    return fired


@pytest.mark.parametrize("jump_h", [1, -1])
def test_a_wall_jump_during_an_open_point_window(engine: PatrolEngine, clock: ManualClock, store: Store,
                                                 jump_h: int) -> None:
    clock.advance(minutes=30)  # 21:30: an ad hoc round; B1 due 21:45, missed after 21:50
    start = engine.scan(WANG, "nfc-lobby")
    clock.advance(minutes=5)
    clock.jump_wall(hours=jump_h)  # wall now 22:35 or 20:35
    assert engine.tick().missed == []
    # 14.5 more minutes of real time: still inside the grace, whatever the wall clock says
    assert _tick_for(engine, clock, 14.5 * 60) == []
    assert alert_rows(store) == {}
    # the first tick after 21:50 on the monotonic clock (B1 due + grace) fires: not lost
    assert _tick_for(engine, clock, 60) == [60.0]
    assert f"patrol.missed:{start.round_id}:cp-b1" in alert_rows(store)


@pytest.mark.parametrize("jump_h", [1, -1])
def test_a_wall_jump_during_a_scheduled_start_window(engine: PatrolEngine, clock: ManualClock, store: Store,
                                                     jump_h: int) -> None:
    clock.advance(minutes=50)
    planned = engine.tick().planned
    assert planned == ["night@2026-11-25T22:00"]  # start window until 22:30, grace until 22:35
    clock.advance(minutes=10)  # 22:00
    clock.jump_wall(hours=jump_h)
    assert _tick_for(engine, clock, 35 * 60) == []  # 22:35 on the monotonic clock
    assert not [k for k in alert_rows(store) if k.startswith("patrol.not_started")]
    assert _tick_for(engine, clock, 60) == [30.0]
    assert [k for k in alert_rows(store) if k.startswith("patrol.not_started")]


def test_a_wall_jump_does_not_change_a_late_or_on_time_verdict(engine: PatrolEngine, clock: ManualClock) -> None:
    clock.advance(minutes=30)
    engine.scan(WANG, "nfc-lobby")  # B1 due in 15 min
    clock.advance(minutes=10)
    clock.jump_wall(hours=1)  # a wall-based engine would call the next tap 55 min late
    result = engine.scan(WANG, "nfc-b1")
    assert result.status == "on_time"
    # the kiosk shows the next deadline as the clock now reads it
    now_wall = clock.instant().wall
    assert result.next_due is not None
    assert abs((result.next_due - now_wall).total_seconds() - 15 * 60) < 1


def test_after_a_reboot_deadlines_fall_back_to_the_wall_clock(engine: PatrolEngine, clock: ManualClock,
                                                              store: Store) -> None:
    clock.advance(minutes=30)
    start = engine.scan(WANG, "nfc-lobby")  # B1 due 21:45 (+5 grace)
    clock.advance(minutes=5)
    clock.reboot(downtime_s=120)  # 21:37 on the wall, a new boot id and monotonic clock
    assert engine.tick().missed == []
    fired = _tick_for(engine, clock, 14 * 60)
    # missed at the first tick after 21:50 on the wall clock: 13 min after the reboot
    assert fired == [13.5 * 60]
    assert f"patrol.missed:{start.round_id}:cp-b1" in alert_rows(store)


def test_a_forward_step_past_a_planned_start_opens_its_window_in_full(engine: PatrolEngine, clock: ManualClock,
                                                                      store: Store) -> None:
    """Schedules are wall-clock times of day: a step past 22:00 makes the round due, but not over."""
    clock.advance(minutes=20)
    assert engine.tick().planned == []  # 21:20
    clock.jump_wall(hours=1)  # 22:20 shown: the 22:00 round is due now
    assert engine.tick().planned == ["night@2026-11-25T22:00"]
    assert _tick_for(engine, clock, 35 * 60) == []  # its 30 min window and 5 min grace run from the step
    assert _tick_for(engine, clock, 60) == [30.0]
    assert [k for k in alert_rows(store) if k.startswith("patrol.not_started")]


def test_a_round_started_after_a_forward_step_is_on_time(engine: PatrolEngine, clock: ManualClock) -> None:
    clock.advance(minutes=20)
    engine.tick()
    clock.jump_wall(hours=1)
    engine.tick()
    clock.advance(minutes=25)  # 22:45 shown, 25 min into the window
    result = engine.scan(WANG, "nfc-lobby")
    assert (result.status, result.round_id is not None) == ("on_time", True)
    row = engine.store.query("SELECT plan_key FROM patrol_rounds WHERE id = ?", (result.round_id,))[0]
    assert row["plan_key"] == "night@2026-11-25T22:00"


def test_an_outage_is_not_a_clock_step(engine: PatrolEngine, clock: ManualClock, store: Store) -> None:
    """Nothing ran from 21:20 to 23:00 (both advance together): the 22:00 round is reported at once."""
    clock.advance(minutes=20)
    engine.tick()
    clock.advance(minutes=100)
    assert engine.tick().not_started != []
    assert [k for k in alert_rows(store) if k.startswith("patrol.not_started")]


def test_any_clock_with_wall_and_monotonic_readings_drives_the_engine(make_engine, clock: ManualClock) -> None:  # noqa: ANN001
    """The kiosk may share its own clock object: anything whose instant() has wall, boot_id, mono_ns, synced."""
    from types import SimpleNamespace

    class ForeignClock:
        def instant(self) -> SimpleNamespace:
            now = clock.instant()
            return SimpleNamespace(wall=now.wall, boot_id=now.boot_id, mono_ns=now.mono_ns, synced=True)

    engine = make_engine()
    engine.clock = ForeignClock()
    assert engine.scan(WANG, "nfc-lobby").status == "on_time"
    clock.advance(minutes=21)
    assert engine.tick().missed != []
