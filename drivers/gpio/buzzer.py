"""An active buzzer playing short feedback patterns, on gpiozero's Buzzer.

:meth:`Buzzer.play` returns at once: the beeps run on gpiozero's background
blink thread. A new pattern cuts off the one sounding (the latest feedback is
the one that matters to the person at the panel).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from gpiozero.output_devices import Buzzer as GpiozeroBuzzer
from gpiozero.pins import Factory

from drivers.gpio.factory import default_pin_factory


@dataclass(frozen=True)
class BeepPattern:
    on_s: float
    off_s: float = 0.0
    count: int = 1

    @property
    def duration_s(self) -> float:
        return self.count * (self.on_s + self.off_s)


DEFAULT_BEEP_PATTERNS: dict[str, BeepPattern] = {
    "accepted": BeepPattern(on_s=0.1),                       # one short
    "rejected": BeepPattern(on_s=0.1, off_s=0.1, count=3),   # three short
    "alert": BeepPattern(on_s=1.5),                          # one long
}


@dataclass(frozen=True)
class BuzzerState:
    buzzer_id: str
    pattern: str | None   # the pattern playing now, None when silent
    sounding: bool        # the output right now


class Buzzer:
    """An active (self-oscillating) buzzer on one GPIO pin."""

    def __init__(self, buzzer_id: str, pin: int | str, *, active_high: bool = True,
                 patterns: Mapping[str, BeepPattern] | None = None,
                 pin_factory: Factory | None = None) -> None:
        self.buzzer_id = buzzer_id
        self.patterns: dict[str, BeepPattern] = {**DEFAULT_BEEP_PATTERNS, **(patterns or {})}
        factory = pin_factory if pin_factory is not None else default_pin_factory()
        self._device = GpiozeroBuzzer(pin, active_high=active_high, initial_value=False,
                                      pin_factory=factory)
        self._lock = threading.Lock()
        self._pattern: str | None = None
        self._until = 0.0

    @property
    def pin(self):
        return self._device.pin

    def play(self, pattern: str) -> None:
        """Start *pattern* ("accepted", "rejected", "alert", ...) and return."""
        try:
            spec = self.patterns[pattern]
        except KeyError:
            raise ValueError(f"unknown beep pattern {pattern!r}; "
                             f"known: {', '.join(sorted(self.patterns))}") from None
        with self._lock:
            self._pattern = pattern
            self._until = time.monotonic() + spec.duration_s
            self._device.beep(on_time=spec.on_s, off_time=spec.off_s, n=spec.count,
                              background=True)

    def silence(self) -> None:
        with self._lock:
            self._pattern = None
            self._device.off()

    @property
    def state(self) -> BuzzerState:
        with self._lock:
            pattern = self._pattern if time.monotonic() < self._until else None
        return BuzzerState(self.buzzer_id, pattern, bool(self._device.is_active))

    @property
    def closed(self) -> bool:
        return self._device.closed

    def close(self) -> None:
        self._device.close()

    def __enter__(self) -> Buzzer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return f"<Buzzer {self.buzzer_id} closed>"
        return f"<Buzzer {self.buzzer_id} pin={self._device.pin}>"
