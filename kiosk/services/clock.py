"""An injectable clock: wall time (UTC) plus the boot id and monotonic offset.

Services never read the system clock directly: they ask a Clock for an Instant,
so tests drive time by hand (ManualClock) and no test waits for a deadline.
An Instant carries what the store records with every row (UTC wall time, boot
id, monotonic nanoseconds since boot, whether NTP had synchronised the clock),
which is what lets SLA timers survive wall-clock jumps (see sla.py).
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import dataclass, replace

from mqtt_bridge.timebase import BOOT_ID, clock_synchronised, monotonic_ns, rfc3339, utc_now


@dataclass(frozen=True)
class Instant:
    wall: dt.datetime  # timezone-aware, UTC
    boot_id: str
    mono_ns: int
    synced: bool

    @property
    def ts(self) -> str:
        """RFC 3339 UTC with milliseconds: the form every table stores (sorts as text)."""
        return rfc3339(self.wall)

    def local(self, tz: dt.tzinfo) -> dt.datetime:
        return self.wall.astimezone(tz)


class Clock:
    """The real clock of this machine."""

    def instant(self) -> Instant:
        # monotonic first: a wall read racing a clock step cannot make mono run ahead of wall
        mono = monotonic_ns()
        return Instant(utc_now(), BOOT_ID, mono, clock_synchronised())


SystemClock = Clock


class ManualClock(Clock):
    """A clock moved by hand (tests, the demo's time-travel control).

    `advance` moves wall and monotonic time together (time passes);
    `jump_wall` moves only the wall clock (an NTP step or a wrong RTC);
    `reboot` starts a new boot: new boot id, monotonic time back near zero.
    """

    def __init__(self, start: dt.datetime, *, synced: bool = True, boot_id: str | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._lock = threading.Lock()
        self._now = Instant(start.astimezone(dt.timezone.utc), boot_id or str(uuid.uuid4()),
                            10_000_000_000, synced)

    def instant(self) -> Instant:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0, **delta: float) -> Instant:
        step = dt.timedelta(seconds=seconds, **delta)
        with self._lock:
            self._now = replace(self._now, wall=self._now.wall + step,
                                mono_ns=self._now.mono_ns + int(step.total_seconds() * 1e9))
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

    def reboot(self, downtime_s: float = 60, synced: bool | None = None) -> Instant:
        with self._lock:
            self._now = Instant(self._now.wall + dt.timedelta(seconds=downtime_s), str(uuid.uuid4()),
                                5_000_000_000, self._now.synced if synced is None else synced)
            return self._now

    def set_synced(self, synced: bool) -> None:
        with self._lock:
            self._now = replace(self._now, synced=synced)


def parse_ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
