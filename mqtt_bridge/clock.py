"""The one injectable clock of the product: wall time and monotonic time together.

Services (the lobby's, the patrol engine) never read the system clock
themselves; they ask a Clock for an Instant. Tests drive a whole day or night
with ManualClock (advance, jump the wall clock, reboot) and never sleep. An Instant is also how every deadline is stored: UTC wall time
plus the boot id and CLOCK_BOOTTIME offset, so that while the boot lasts a
deadline is judged on the monotonic clock (a wall-clock step neither fires nor
loses it) and only across a reboot on the wall clock.

A scan read from a handheld wand has only the wand's wall time: its boot id is
"" and it is always compared on wall time.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import dataclass, replace

from mqtt_bridge.timebase import BOOT_ID, clock_synchronised, monotonic_ns, parse_rfc3339, rfc3339, utc_now

_NS = 1_000_000_000


@dataclass(frozen=True)
class Instant:
    wall: dt.datetime  # timezone-aware, UTC
    boot_id: str  # "" when only the wall time is known (a wand's own timestamp)
    mono_ns: int
    synced: bool = True

    @property
    def ts(self) -> str:
        return rfc3339(self.wall)

    def plus(self, seconds: float) -> "Instant":
        """The same clock reading `seconds` later (both the wall and the monotonic part)."""
        return replace(self, wall=self.wall + dt.timedelta(seconds=seconds), mono_ns=self.mono_ns + int(seconds * _NS))

    def after(self, other: "Instant") -> bool:
        """Strictly later than `other`: on the monotonic clock within one boot, else on the wall clock."""
        if self.boot_id and self.boot_id == other.boot_id:
            return self.mono_ns > other.mono_ns
        return self.wall > other.wall

    def seconds_since(self, other: "Instant") -> float:
        if self.boot_id and self.boot_id == other.boot_id:
            return (self.mono_ns - other.mono_ns) / _NS
        return (self.wall - other.wall).total_seconds()

    def as_seen_at(self, now: "Instant") -> dt.datetime:
        """The wall time of this moment as the clock reading `now` would show it (for display)."""
        return now.wall + dt.timedelta(seconds=self.seconds_since(now))

    def local(self, tz: dt.tzinfo) -> dt.datetime:
        return self.wall.astimezone(tz)

    # -------------------------------------------------------------- storage

    def columns(self) -> tuple[str, str, int]:
        return (self.ts, self.boot_id, self.mono_ns)

    @classmethod
    def from_columns(cls, ts: str | None, boot_id: str | None, mono_ns: int | None) -> "Instant | None":
        if ts is None:
            return None
        return cls(parse_rfc3339(ts), boot_id or "", int(mono_ns or 0))

    @classmethod
    def wall_only(cls, wall: dt.datetime, synced: bool = True) -> "Instant":
        return cls(wall.astimezone(dt.timezone.utc), "", 0, synced)


def parse_ts(text: str) -> dt.datetime:
    return parse_rfc3339(text)


class Clock:
    """The real clock of this machine."""

    def instant(self) -> Instant:
        mono = monotonic_ns()  # monotonic first, so a racing wall step cannot put mono ahead of wall
        return Instant(utc_now(), BOOT_ID, mono, clock_synchronised())


SystemClock = Clock


class ManualClock(Clock):
    """A clock moved by hand.

    `advance` lets time pass (wall and monotonic together); `jump_wall` steps only the
    wall clock (an NTP correction, a wrong manual setting); `reboot` starts a new boot.
    """

    def __init__(self, start: dt.datetime, *, synced: bool = True, boot_id: str | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._lock = threading.Lock()
        self._now = Instant(start.astimezone(dt.timezone.utc), boot_id or str(uuid.uuid4()), 10 * _NS, synced)

    def instant(self) -> Instant:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0, **delta: float) -> Instant:
        step = dt.timedelta(seconds=seconds, **delta).total_seconds()
        with self._lock:
            self._now = self._now.plus(step)
            return self._now

    def jump_wall(self, seconds: float = 0, **delta: float) -> Instant:
        step = dt.timedelta(seconds=seconds, **delta)
        with self._lock:
            self._now = replace(self._now, wall=self._now.wall + step)
            return self._now

    def set_wall(self, moment: dt.datetime) -> Instant:
        with self._lock:
            self._now = replace(self._now, wall=moment.astimezone(dt.timezone.utc))
            return self._now

    def set_synced(self, synced: bool) -> None:
        with self._lock:
            self._now = replace(self._now, synced=synced)

    def reboot(self, downtime_s: float = 60, synced: bool | None = None) -> Instant:
        with self._lock:
            self._now = Instant(self._now.wall + dt.timedelta(seconds=downtime_s), str(uuid.uuid4()), 5 * _NS,
                                self._now.synced if synced is None else synced)
            return self._now
