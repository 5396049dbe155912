"""A status LED showing named patterns, on gpiozero's LED or PWMLED.

A pattern is a steady level or a blink; any pattern may be shown for a limited
time, after which the LED goes off. The complaint-button flow uses::

    led.show("pending")                      # blink until someone acknowledges
    led.show("acknowledged", for_s=60)       # then steady for a minute, then off

Blinking runs on gpiozero's own background thread; :meth:`StatusLed.show`
returns at once and a new call replaces whatever was showing.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from gpiozero.output_devices import LED, PWMLED
from gpiozero.pins import Factory

from drivers.gpio.factory import default_pin_factory


@dataclass(frozen=True)
class LedPattern:
    """``off_s == 0`` means steady; ``lit`` is the steady level.

    ``default_for_s`` makes the pattern end (LED off) after that many seconds
    unless :meth:`StatusLed.show` is given ``for_s``.
    """

    on_s: float = 0.0
    off_s: float = 0.0
    lit: bool = True
    default_for_s: float | None = None

    @property
    def blinks(self) -> bool:
        return self.lit and self.on_s > 0 and self.off_s > 0


DEFAULT_LED_PATTERNS: dict[str, LedPattern] = {
    "off": LedPattern(lit=False),
    "ok": LedPattern(),                               # steady on
    "busy": LedPattern(on_s=0.5, off_s=0.5),          # slow blink
    "alert": LedPattern(on_s=0.1, off_s=0.1),         # fast blink
    "pending": LedPattern(on_s=0.25, off_s=0.25),     # blink until acknowledged
    "acknowledged": LedPattern(default_for_s=30.0),   # steady, then off
}


@dataclass(frozen=True)
class LedState:
    led_id: str
    pattern: str          # the pattern showing now ("off" once a timed one ended)
    lit: bool             # the LED's output right now
    until_mono: float | None  # when a timed pattern ends (time.monotonic())


class StatusLed:
    """One LED driven through named patterns.

    :param led_id: the name used by the simulator and in logs.
    :param pin: GPIO pin of the LED (through its resistor).
    :param pwm: use a PWMLED (needs a PWM-capable pin) instead of a plain LED.
    :param patterns: replaces or adds patterns by name.
    """

    def __init__(self, led_id: str, pin: int | str, *, active_high: bool = True,
                 pwm: bool = False, patterns: Mapping[str, LedPattern] | None = None,
                 pin_factory: Factory | None = None) -> None:
        self.led_id = led_id
        self.patterns: dict[str, LedPattern] = {**DEFAULT_LED_PATTERNS, **(patterns or {})}
        factory = pin_factory if pin_factory is not None else default_pin_factory()
        device_class = PWMLED if pwm else LED
        self._device = device_class(pin, active_high=active_high, initial_value=False,
                                    pin_factory=factory)
        self._lock = threading.Lock()
        self._pattern = "off"
        self._until: float | None = None

    @property
    def pin(self):
        return self._device.pin

    def show(self, pattern: str, *, for_s: float | None = None) -> None:
        """Show *pattern*; with *for_s* (or the pattern's default) go off afterwards."""
        try:
            spec = self.patterns[pattern]
        except KeyError:
            raise ValueError(f"unknown LED pattern {pattern!r}; "
                             f"known: {', '.join(sorted(self.patterns))}") from None
        duration = for_s if for_s is not None else spec.default_for_s
        if duration is not None and duration <= 0:
            raise ValueError("for_s must be positive")
        with self._lock:
            self._pattern = pattern
            self._until = None if duration is None or not spec.lit else time.monotonic() + duration
            self._drive(spec, duration)

    def off(self) -> None:
        self.show("off")

    def _drive(self, spec: LedPattern, duration: float | None) -> None:
        device = self._device
        if not spec.lit:
            device.off()
        elif not spec.blinks:
            if duration is None:
                device.on()
            else:  # one long "blink": on for the duration, then off
                device.blink(on_time=duration, off_time=0, n=1)
        else:
            period = spec.on_s + spec.off_s
            n = None if duration is None else max(1, math.ceil(duration / period))
            device.blink(on_time=spec.on_s, off_time=spec.off_s, n=n)

    @property
    def pattern(self) -> str:
        return self.state.pattern

    @property
    def state(self) -> LedState:
        with self._lock:
            pattern, until = self._pattern, self._until
        if until is not None and time.monotonic() >= until:
            pattern, until = "off", None
        return LedState(self.led_id, pattern, bool(self._device.is_lit), until)

    @property
    def closed(self) -> bool:
        return self._device.closed

    def close(self) -> None:
        self._device.close()

    def __enter__(self) -> StatusLed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return f"<StatusLed {self.led_id} closed>"
        return f"<StatusLed {self.led_id} pin={self._device.pin} pattern={self.pattern}>"
