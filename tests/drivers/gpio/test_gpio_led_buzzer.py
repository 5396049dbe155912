"""StatusLed patterns and Buzzer beeps, read back from the mock pins' state history."""

from __future__ import annotations

import statistics

import pytest

from drivers.gpio import BeepPattern, GpioSimulator, LedPattern

FAST = {"busy": LedPattern(on_s=0.2, off_s=0.2), "alert": LedPattern(on_s=0.02, off_s=0.02),
        "pending": LedPattern(on_s=0.03, off_s=0.03)}


def levels(pin) -> list[bool]:
    """The pin's level history with repeats merged."""
    out: list[bool] = []
    for state in pin.states:
        if not out or bool(state.state) != out[-1]:
            out.append(bool(state.state))
    return out


def on_times(pin) -> list[float]:
    """How long each 'on' lasted (a PinState's timestamp is the time since the change before)."""
    states = pin.states
    return [after.timestamp for before, after in zip(states, states[1:])
            if bool(before.state) and not bool(after.state)]


@pytest.mark.parametrize("pwm", [False, True])
def test_ok_is_steady_on_and_off_is_off(devices, pwm):
    led = devices.led(pwm=pwm)
    led.show("ok")
    assert led.state.lit and led.pattern == "ok"
    led.show("off")
    assert not led.state.lit and led.pattern == "off"
    assert levels(led.pin) == [False, True, False]


def test_busy_blinks_slower_than_alert(devices, wait_for):
    busy, alert = devices.led("busy", 18, patterns=FAST), devices.led("alert", 23, patterns=FAST)
    busy.show("busy")
    alert.show("alert")
    assert wait_for(lambda: len(busy.pin.states) >= 7 and len(alert.pin.states) >= 7)
    busy.off()
    alert.off()
    for led in (busy, alert):
        history = levels(led.pin)
        assert history[:6] == [False, True, False, True, False, True]
    assert statistics.median(on_times(alert.pin)) < statistics.median(on_times(busy.pin))


def test_pending_until_acknowledged_then_steady_then_off(devices, wait_for):
    led = devices.led(patterns=FAST)
    sim = GpioSimulator(leds=[led])
    led.show("pending")
    assert wait_for(lambda: len(levels(led.pin)) >= 5)   # it blinks...
    assert sim.led_state("led").pattern == "pending"

    led.show("acknowledged", for_s=0.3)                  # ...until acknowledged
    state = sim.led_state("led")
    assert state.pattern == "acknowledged" and state.lit and state.until_mono is not None
    blinks = len(levels(led.pin))
    assert wait_for(lambda: not led.state.lit)           # then goes off by itself
    assert sim.led_state("led").pattern == "off"
    history = levels(led.pin)
    assert history[-2:] == [True, False]                  # one steady 'on' after the blinking
    assert len(history) - blinks <= 2


def test_acknowledged_has_a_default_duration(devices):
    led = devices.led()
    led.show("acknowledged")
    assert led.state.until_mono is not None


def test_unknown_pattern_is_refused(devices):
    led = devices.led()
    with pytest.raises(ValueError, match="unknown LED pattern"):
        led.show("disco")


SHORT_BEEPS = {"alert": BeepPattern(on_s=0.3), "accepted": BeepPattern(on_s=0.03),
               "rejected": BeepPattern(on_s=0.03, off_s=0.03, count=3)}


@pytest.mark.parametrize("pattern, pulses", [("accepted", 1), ("rejected", 3), ("alert", 1)])
def test_beep_patterns(devices, wait_for, pattern, pulses):
    buzzer = devices.buzzer(patterns=SHORT_BEEPS)
    buzzer.play(pattern)                                  # returns at once...
    assert buzzer.state.pattern == pattern
    assert wait_for(lambda: buzzer.state.pattern is None and not buzzer.state.sounding)
    assert wait_for(lambda: levels(buzzer.pin) == [False] + [True, False] * pulses)


def test_default_patterns_differ_as_specified(devices):
    patterns = devices.buzzer().patterns
    assert patterns["accepted"].count == 1
    assert patterns["rejected"].count == 3
    assert patterns["alert"].count == 1
    assert patterns["alert"].on_s > 5 * patterns["accepted"].on_s


def test_new_beep_cuts_off_the_one_sounding(devices, wait_for):
    buzzer = devices.buzzer(patterns={**SHORT_BEEPS, "alert": BeepPattern(on_s=30)})
    buzzer.play("alert")
    assert wait_for(lambda: buzzer.state.sounding)
    buzzer.play("accepted")
    assert buzzer.state.pattern == "accepted"
    assert wait_for(lambda: not buzzer.state.sounding and buzzer.state.pattern is None)
    sim = GpioSimulator(buzzers=[buzzer])
    assert sim.buzzer_state("buzzer").pattern is None
