"""When rounds are due: the schedules of [patrol] turned into planned rounds.

- fixed: each listed time of day (site time zone).
- every: from window_from, every `every_h` hours, while before window_to (exclusive).
- random: `count` rounds in the window at times nobody can predict. The window is cut
  into `count` equal slots and one minute is drawn in each (so rounds do not bunch).
  The draw is seeded with an HMAC of the site id, the route, the schedule's shape and the
  date under a secret kept in the state directory (`patrol-random.key`, mode 0600):
  reproducible (both processes and the tests agree) but unknown to anyone without the file.

A window whose end is not after its start crosses midnight; its rounds belong to the
schedule day it starts on (22:00-06:00 of 25 Nov includes 02:00 on 26 Nov).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import random
from dataclasses import dataclass
from pathlib import Path

from lobby.config.model import PatrolConfig, Schedule, ShiftsConfig
from lobby.secretfile import load_or_create

SECRET_FILE = "patrol-random.key"


@dataclass(frozen=True)
class Occurrence:
    """One planned round: the route and its wall-clock start in the site time zone."""

    key: str  # stable identity: "<route>@<local YYYY-MM-DDTHH:MM>"
    route_id: str
    kind: str  # fixed, every, random
    planned: dt.datetime  # aware, UTC

    @property
    def planned_ts(self) -> str:
        from mqtt_bridge.timebase import rfc3339

        return rfc3339(self.planned)


def load_secret(state_dir: str | os.PathLike[str]) -> bytes:
    """The site's secret for random rounds, made on first use (race-safe across processes)."""
    return load_or_create(Path(state_dir) / SECRET_FILE)


def _at(day: dt.date, time: dt.time, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, time, tz).astimezone(dt.timezone.utc)


def _window(day: dt.date, sched: Schedule, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    assert sched.window_from is not None and sched.window_to is not None
    start = _at(day, sched.window_from, tz)
    end_day = day if sched.window_to > sched.window_from else day + dt.timedelta(days=1)
    return start, _at(end_day, sched.window_to, tz)


def random_times(secret: bytes, site_id: str, sched: Schedule, day: dt.date, tz: dt.tzinfo) -> list[dt.datetime]:
    start, end = _window(day, sched, tz)
    shape = f"{sched.route}|{sched.window_from}|{sched.window_to}|{sched.count}"
    seed = hmac.new(secret, f"patrol-random|{site_id}|{shape}|{day.isoformat()}".encode(), hashlib.sha256).digest()
    rng = random.Random(seed)
    minutes = int((end - start).total_seconds() // 60)
    slot = minutes / sched.count
    times = []
    for i in range(sched.count):
        lo = int(i * slot)
        hi = max(lo, int((i + 1) * slot) - 1)
        times.append(start + dt.timedelta(minutes=rng.randint(lo, hi)))
    return times


def occurrences(patrol: PatrolConfig, tz: dt.tzinfo, day: dt.date, secret: bytes, site_id: str) -> list[Occurrence]:
    """Every round planned by the schedules for schedule day `day`, in time order, without duplicates."""
    found: dict[str, Occurrence] = {}
    for sched in patrol.schedules:
        if sched.kind == "fixed":
            times = [_at(day, t, tz) for t in sched.times]
        elif sched.kind == "every":
            assert sched.every_h is not None
            start, end = _window(day, sched, tz)
            times, moment = [], start
            while moment < end:
                times.append(moment)
                moment += dt.timedelta(hours=sched.every_h)
        else:
            times = random_times(secret, site_id, sched, day, tz)
        for moment in times:
            local = moment.astimezone(tz)
            key = f"{sched.route}@{local.strftime('%Y-%m-%dT%H:%M')}"
            found.setdefault(key, Occurrence(key, sched.route, sched.kind, moment))
    return sorted(found.values(), key=lambda o: (o.planned, o.key))


def next_handover(shifts: ShiftsConfig, tz: dt.tzinfo, after: dt.datetime) -> dt.datetime:
    """The first shift end strictly after `after` (UTC); 12 hours later if no shifts are configured."""
    if not shifts.shifts:
        return after + dt.timedelta(hours=12)
    local = after.astimezone(tz)
    candidates = [
        _at(local.date() + dt.timedelta(days=offset), shift.end, tz)
        for shift in shifts.shifts for offset in (0, 1, 2)
    ]
    return min(c for c in candidates if c > after)
