"""The clock: a Pi has no battery clock, so the time is right only once NTP has synchronised it."""

from __future__ import annotations

import datetime as dt

from lobby.config import Config
from mqtt_bridge.timebase import clock_synchronised
from lobby.doctor.base import Check, Context, Result, fail, ok

NAME = "clock"
_EARLIEST = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)  # older than the software: surely wrong


def checks(cfg: Config) -> list[Check]:
    return [Check(NAME, run, timeout_s=2.0)]


def run(ctx: Context) -> list[Result]:
    now = dt.datetime.now(dt.timezone.utc)
    if now < _EARLIEST:
        return [fail(NAME, f"The clock says {now:%Y-%m-%d %H:%M} UTC, which cannot be right.",
                     "Give the Pi network access to a time server (NTP, UDP port 123) and check "
                     "`timedatectl status`; records made meanwhile are flagged and repaired later.")]
    if not clock_synchronised():
        return [fail(NAME, "The clock is not synchronised with a time server: records are saved but flagged "
                           "\"clock not synced\", and times may be off.",
                     "Check `timedatectl status` (\"System clock synchronized: yes\" is wanted), that "
                     "systemd-timesyncd runs, and that the network lets NTP (UDP 123) out; on a closed network "
                     "set NTP= in /etc/systemd/timesyncd.conf to the site's time server.")]
    return [ok(NAME, f"The clock is synchronised ({now:%Y-%m-%d %H:%M} UTC).")]
