"""The gateway's one timer loop: periodic jobs and daily jobs at a site-local time.

Intervals run on the monotonic clock, so a wall-clock jump neither fires a job
early nor skips one; daily jobs are keyed by the site-local date, so a restart
does not repeat them (they are idempotent anyway) and a jump back does not
run them twice. Every job is isolated: an exception is logged and the loop
goes on. The loop's heartbeat feeds the systemd watchdog.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field

from mqtt_bridge.store.stall import is_stall

log = logging.getLogger(__name__)


@dataclass
class _Periodic:
    name: str
    every_s: float
    fn: Callable[[], object]
    next_mono: float = 0.0


@dataclass
class _Daily:
    name: str
    at: dt.time
    fn: Callable[[dt.date], object]
    last_day: dt.date | None = None


@dataclass
class Scheduler:
    timezone: str
    tick_s: float = 0.25
    _periodic: list[_Periodic] = field(default_factory=list)
    _daily: list[_Daily] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    heartbeat_mono: float = field(default_factory=time.monotonic)

    def every(self, name: str, seconds: float, fn: Callable[[], object], first_after_s: float = 0.0) -> None:
        self._periodic.append(_Periodic(name, seconds, fn, time.monotonic() + first_after_s))

    def daily(self, name: str, at: dt.time, fn: Callable[[dt.date], object]) -> None:
        """Run `fn(local_date)` once per site-local day, at or after `at` (also on start if past it)."""
        self._daily.append(_Daily(name, at, fn))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gateway-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def alive(self, within_s: float = 30.0) -> bool:
        return time.monotonic() - self.heartbeat_mono < within_s

    def _run(self) -> None:
        tz = zoneinfo.ZoneInfo(self.timezone)
        while not self._stop.is_set():
            now = time.monotonic()
            self.heartbeat_mono = now
            for job in self._periodic:
                if now >= job.next_mono:
                    job.next_mono = now + job.every_s
                    self._call(job.name, job.fn)
            local = dt.datetime.now(tz)
            for daily in self._daily:
                due_today = daily.last_day is None or local.date() > daily.last_day  # not again after a step back
                if local.time() >= daily.at and due_today:
                    daily.last_day = local.date()
                    self._call(daily.name, lambda: daily.fn(local.date()))
            self._stop.wait(self.tick_s)

    @staticmethod
    def _call(name: str, fn: Callable[[], object]) -> None:
        try:
            fn()
        except Exception as exc:  # one failing job must not stop the others
            if is_stall(exc):
                return  # a stalled store is logged once, by the store itself (mqtt_bridge/store/stall.py)
            log.exception("scheduled job %s failed", name)
