"""Lock a lookup after repeated wrong attempts (codes, phone digits, ticket numbers).

Counted on the monotonic clock of this kiosk process: a wall-clock jump neither
unlocks nor extends a lockout. A restart of the kiosk forgets the count, which
is acceptable for a screen a person stands at (a restart takes longer than the
lockout) and keeps wrong guesses out of the store.
"""

from __future__ import annotations

import math
import threading
from collections import deque

from mqtt_bridge.clock import Instant


class FailureLimiter:
    def __init__(self, max_failures: int, window_s: float, lockout_s: float) -> None:
        self.max_failures = max_failures
        self.window_ns = int(window_s * 1e9)
        self.lockout_ns = int(lockout_s * 1e9)
        self._lock = threading.Lock()
        self._failures: deque[int] = deque()
        self._locked_until: int | None = None
        self._boot: str | None = None

    def _sync(self, now: Instant) -> None:
        if self._boot != now.boot_id:  # a new boot: monotonic time restarted
            self._boot = now.boot_id
            self._failures.clear()
            self._locked_until = None

    def locked_minutes(self, now: Instant) -> int | None:
        """Minutes (rounded up) until the lookup may be used again, or None if it may be used now."""
        with self._lock:
            self._sync(now)
            if self._locked_until is None or now.mono_ns >= self._locked_until:
                self._locked_until = None
                return None
            return max(1, math.ceil((self._locked_until - now.mono_ns) / 60e9))

    def failed(self, now: Instant) -> None:
        with self._lock:
            self._sync(now)
            self._failures.append(now.mono_ns)
            while self._failures and self._failures[0] < now.mono_ns - self.window_ns:
                self._failures.popleft()
            if len(self._failures) >= self.max_failures:
                self._locked_until = now.mono_ns + self.lockout_ns
                self._failures.clear()

    def succeeded(self, now: Instant) -> None:
        with self._lock:
            self._sync(now)
            self._failures.clear()
