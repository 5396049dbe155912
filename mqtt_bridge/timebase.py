"""Honest time for records and timers.

A Raspberry Pi has no real-time clock: until NTP synchronises, the wall clock may
be days off. Every record therefore carries the UTC wall time, the boot id, a
monotonic offset since boot and whether the clock was synchronised, so a
late-synchronised time can be repaired (same boot: wall = sync_wall - (sync_mono
- mono)) or at least flagged. Timers (patrol windows, SLAs) use the monotonic
clock and never the wall clock.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import os
import threading
import time
import uuid
from dataclasses import dataclass

_TIME_ERROR = 5  # adjtimex() return value when the kernel says "not synchronised"
_SYNC_CACHE_S = 5.0


def _read_boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip()
    except OSError:  # not Linux: one id per process is the honest fallback
        return str(uuid.uuid4())


BOOT_ID = _read_boot_id()


def monotonic_ns() -> int:
    """Nanoseconds since boot, including time suspended (CLOCK_BOOTTIME)."""
    clock = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)
    return time.clock_gettime_ns(clock)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def rfc3339(moment: dt.datetime) -> str:
    """RFC 3339 UTC with milliseconds, e.g. 2026-11-25T19:15:36.123Z."""
    moment = moment.astimezone(dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_rfc3339(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def wall_minus_mono_ms(ts: str, mono_ns: int) -> int:
    """The wall clock's reading (ms since the epoch) at this boot's monotonic zero, as seen by a
    stamp: what an unsynchronised clock gets wrong, and what `time.corrected` corrects."""
    return round(parse_rfc3339(ts).timestamp() * 1000) - mono_ns // 1_000_000


class _SyncProbe:
    """Asks the kernel (adjtimex) whether NTP has synchronised the clock, cached briefly."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checked_at = -1e9
        self._value = False
        try:
            self._libc = ctypes.CDLL(None, use_errno=True)
            self._libc.adjtimex  # noqa: B018 - probe that the symbol exists
        except (OSError, AttributeError):
            self._libc = None

    def __call__(self) -> bool:
        forced = os.environ.get("LOBBY_CLOCK_SYNCED")
        if forced is not None:  # demo and tests on machines whose clock never syncs
            return forced.strip().lower() in {"1", "true", "yes"}
        now = time.monotonic()
        with self._lock:
            if now - self._checked_at < _SYNC_CACHE_S:
                return self._value
            self._checked_at = now
            if self._libc is None:
                self._value = False
            else:
                buf = ctypes.create_string_buffer(512)  # struct timex, modes = 0: read only
                self._value = self._libc.adjtimex(buf) not in (-1, _TIME_ERROR)
            return self._value


clock_synchronised = _SyncProbe()


@dataclass(frozen=True)
class Stamp:
    """When something happened, with everything needed to repair it later."""

    ts: str  # RFC 3339 UTC, milliseconds
    boot_id: str
    mono_ns: int
    clock_synced: bool

    @classmethod
    def now(cls) -> "Stamp":
        return cls(rfc3339(utc_now()), BOOT_ID, monotonic_ns(), clock_synchronised())
