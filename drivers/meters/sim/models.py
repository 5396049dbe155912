"""Quantities that advance with time: energy from power, volume from flow."""

from __future__ import annotations

import threading
import time


class Accumulator:
    """A cumulative register fed by a rate per hour (kW -> kWh, m³/h -> m³).

    ``time_scale`` speeds the simulated clock up for demos (60 = an hour a minute).
    """

    def __init__(self, total: float, rate_per_hour: float, time_scale: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._total = float(total)
        self._rate = float(rate_per_hour)
        self._scale = float(time_scale)
        self._since = time.monotonic()

    def _advance(self, now: float) -> None:
        self._total += self._rate * (now - self._since) * self._scale / 3600.0
        self._since = now

    def value(self, now: float | None = None) -> float:
        with self._lock:
            self._advance(time.monotonic() if now is None else now)
            return self._total

    @property
    def rate(self) -> float:
        return self._rate

    def set_rate(self, rate_per_hour: float) -> None:
        with self._lock:
            self._advance(time.monotonic())
            self._rate = float(rate_per_hour)

    def set_total(self, total: float) -> None:
        with self._lock:
            self._advance(time.monotonic())
            self._total = float(total)
