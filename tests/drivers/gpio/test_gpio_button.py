"""PanelButton on gpiozero's MockFactory: the real gpiozero callbacks and our threads."""

from __future__ import annotations

import threading
import time

import pytest

from drivers.gpio import ButtonEventKind, SimulationError
from drivers.health import HealthState


def recorder(button):
    events: list = []
    button.when_pressed = events.append
    button.when_long_pressed = events.append
    return events


def test_bouncing_pin_gives_one_press(devices, sim, wait_for):
    button = devices.button(bounce_time=0.2)
    events = recorder(button)
    sim.add_button(button)
    sim.bounce("btn", edges=7)            # chattering close...
    assert wait_for(lambda: button.is_pressed)
    sim.bounce("btn", edges=7, end_pressed=False)  # ...and chattering open
    assert sim.wait_idle("btn")
    assert [e.kind for e in events] == [ButtonEventKind.PRESS]
    assert events[0].button_id == "btn"
    assert len(button.pin.states) > 10    # the pin really did bounce


def test_short_and_long_press(devices, sim):
    button = devices.button(hold_time=0.3)
    events = recorder(button)
    sim.add_button(button)
    sim.click("btn")
    sim.hold("btn", 0.5)
    assert sim.wait_idle("btn")
    assert [e.kind for e in events] == [ButtonEventKind.PRESS, ButtonEventKind.LONG_PRESS]
    short, long_ = events
    assert short.t_mono < long_.t_mono
    assert long_.duration_s == button.hold_time


def test_stuck_button_degrades_health_and_recovers_on_release(devices, sim, wait_for):
    button = devices.button(hold_time=0.1, stuck_time=0.3)
    events = recorder(button)
    changes: list = []
    button.subscribe_health(changes.append)
    sim.add_button(button)
    assert button.health.state is HealthState.OK

    sim.press("btn")
    assert wait_for(lambda: button.is_stuck)
    assert wait_for(lambda: button.health.state is HealthState.DEGRADED)
    assert button.health.reason == "stuck pressed"
    sim.bounce("btn", edges=4)            # a jammed contact chattering: still no events
    assert sim.wait_idle("btn")
    assert [e.kind for e in events] == [ButtonEventKind.LONG_PRESS]

    sim.release("btn")
    assert sim.wait_idle("btn")
    assert wait_for(lambda: button.health.state is HealthState.OK)
    assert not button.is_stuck
    assert [e.kind for e in events] == [ButtonEventKind.LONG_PRESS]  # release is no press

    sim.click("btn")
    assert sim.wait_idle("btn")
    assert [e.kind for e in events] == [ButtonEventKind.LONG_PRESS, ButtonEventKind.PRESS]
    assert [c.state for c in changes] == [HealthState.DEGRADED, HealthState.OK]


def test_slow_callback_loses_no_presses(devices, sim):
    button = devices.button(bounce_time=0.01)
    seen: list = []
    callback_threads: set = set()

    def slow(event):
        callback_threads.add(threading.current_thread().name)
        time.sleep(0.05)
        seen.append(event)

    button.when_pressed = slow
    sim.add_button(button)
    for _ in range(15):
        sim.click("btn")
    assert sim.wait_idle("btn", timeout=20)
    assert len(seen) == 15
    assert all(a.t_mono < b.t_mono for a, b in zip(seen, seen[1:]))
    assert callback_threads == {"btn-dispatch"}
    assert button.dropped_events == 0


def test_callback_error_does_not_stop_later_presses(devices, sim):
    button = devices.button()
    seen: list = []

    def flaky(event):
        seen.append(event)
        if len(seen) == 1:
            raise RuntimeError("callback bug")

    button.when_pressed = flaky
    sim.add_button(button)
    sim.click("btn")
    sim.click("btn")
    assert sim.wait_idle("btn")
    assert len(seen) == 2


def test_queue_overflow_is_counted_and_reported(devices, sim, wait_for):
    button = devices.button(max_pending=1)
    release = threading.Event()
    button.when_pressed = lambda event: release.wait(10)
    sim.add_button(button)
    for _ in range(4):
        sim.click("btn")
    # one press is in the callback, one waits, the rest overflow
    assert wait_for(lambda: button.dropped_events >= 1)
    assert wait_for(lambda: button.health.state is HealthState.DEGRADED)
    assert button.health.reason == "callbacks too slow: events dropped"
    release.set()
    assert sim.wait_idle("btn")
    assert wait_for(lambda: button.health.state is HealthState.OK)


def test_active_high_button(devices, sim):
    button = devices.button(pull_up=False)
    events = recorder(button)
    sim.add_button(button)
    sim.click("btn")
    assert sim.wait_idle("btn")
    assert [e.kind for e in events] == [ButtonEventKind.PRESS]


def test_simulator_rejects_unknown_ids(sim):
    with pytest.raises(SimulationError):
        sim.press("nope")
    with pytest.raises(SimulationError):
        sim.led_state("nope")


def test_invalid_times_rejected(devices):
    with pytest.raises(ValueError):
        devices.button(hold_time=1.0, stuck_time=0.5)
