"""A store that cannot write: one log line when it stalls, one when it recovers, one report for central.

An SD card that stops taking writes (disk I/O error, a read-only remount) or a write lock that
another process does not let go of (database is locked) makes every write of every thread fail,
every few seconds, for as long as it lasts. Logging each failure with its traceback buries the
one thing an engineer needs to read. So the store tells this watch about each failed and each
successful write: the first failure logs "stalled" (with the cause), the first success after it
logs "recovered" with the duration, and the stall is kept as one report (start, end, duration,
cause, failed writes) that the gateway's health monitor sends to central once (`store.stalled`).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Any

from mqtt_bridge.timebase import rfc3339, utc_now

log = logging.getLogger(__name__)

_STALL_WORDS = ("locked", "busy", "disk i/o error", "readonly", "read-only", "unable to open", "disk is full")


def is_stall(exc: BaseException) -> bool:
    """A write refused by the disk or by a lock, not a mistake in the SQL."""
    text = str(exc).lower()
    return isinstance(exc, (sqlite3.OperationalError, RuntimeError)) and any(w in text for w in _STALL_WORDS)


class StallWatch:
    """Safe from several threads; `failed()` and `succeeded()` cost a lock only while stalled."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._since_mono: float | None = None
        self._since_ts = ""
        self._cause = ""
        self._failures = 0
        self._reports: list[dict[str, Any]] = []

    @property
    def stalled(self) -> bool:
        return self._since_mono is not None

    def failed(self, exc: BaseException) -> bool:
        """A write failed; True if it is a stall (the caller then logs nothing of its own)."""
        if not is_stall(exc):
            return False
        with self._lock:
            self._failures += 1
            if self._since_mono is not None:
                return True
            self._since_mono, self._since_ts = time.monotonic(), rfc3339(utc_now())
            self._cause = str(exc).split(": ")[-1][:200]
        log.error("store stalled: writes to %s fail (%s); retrying quietly until they succeed", self.name, self._cause)
        return True

    def succeeded(self) -> None:
        if self._since_mono is None:
            return
        with self._lock:
            if self._since_mono is None:
                return
            duration = round(time.monotonic() - self._since_mono, 1)
            report = {"start": self._since_ts, "end": rfc3339(utc_now()), "duration_s": duration,
                      "cause": self._cause, "failed_writes": self._failures}
            self._since_mono, self._failures = None, 0
            self._reports.append(report)
        log.warning("store recovered: writes to %s succeed again after %.1f s stalled (%d failed write(s))",
                    self.name, duration, report["failed_writes"])

    def take_reports(self) -> list[dict[str, Any]]:
        """The stalls ended since the last call (the caller sends them, and puts them back if it cannot)."""
        with self._lock:
            reports, self._reports = self._reports, []
        return reports

    def put_back(self, reports: list[dict[str, Any]]) -> None:
        with self._lock:
            self._reports[:0] = reports
