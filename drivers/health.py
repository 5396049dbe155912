"""Device health as every driver reports it.

A driver never raises into its host process because a device misbehaves; it
changes its health instead and tells whoever listens. The gateway turns health
changes into alerts and into the status grid on the staff screen.
"""

from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass, field
from typing import Callable


class HealthState(str, enum.Enum):
    OK = "ok"
    DEGRADED = "degraded"  # working, but with errors or retries
    LOST = "lost"  # not answering; the driver keeps retrying with backoff


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    device_id: str
    state: HealthState
    reason: str = ""  # plain words for the operator, never personal data
    since_mono: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict[str, str]:
        return {"device_id": self.device_id, "state": self.state.value, "reason": self.reason}


HealthListener = Callable[[DeviceHealth], None]


class HealthReporter:
    """Holds one device's current health and notifies listeners on change only."""

    def __init__(self, device_id: str, initial: HealthState = HealthState.DEGRADED,
                 reason: str = "starting") -> None:
        self._lock = threading.Lock()
        self._health = DeviceHealth(device_id, initial, reason)
        self._listeners: list[HealthListener] = []

    @property
    def health(self) -> DeviceHealth:
        with self._lock:
            return self._health

    def subscribe(self, listener: HealthListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def set(self, state: HealthState, reason: str = "") -> bool:
        """Record a new state; returns True (and notifies) only if it changed."""
        with self._lock:
            current = self._health
            if current.state == state and current.reason == reason:
                return False
            self._health = DeviceHealth(current.device_id, state, reason)
            listeners = list(self._listeners)
            new = self._health
        for listener in listeners:
            try:
                listener(new)
            except Exception:  # a faulty listener must not break the driver
                import logging

                logging.getLogger(__name__).exception("health listener failed")
        return True
