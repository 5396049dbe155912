"""Refuse commands dated too long ago (a replayed or long-delayed command).

A command whose `ts` is older than `max_age_s` is refused, with the reason in its
result. "Older" is measured against a reference time:

- the Pi's clock, when it is synchronised (timebase.clock_synchronised);
- and in any case the newest `ts` of a command already accepted (kept in the
  store's meta, so it survives restarts). A Pi without a real-time clock boots
  with a wrong time until NTP answers; it then refuses nothing on its own clock's
  account, but a command dated more than `max_age_s` before one central already
  sent is still refused.

A command dated in the future is not refused here (central's clock may run ahead);
it moves the reference forward only once accepted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from mqtt_bridge.clock import parse_ts
from mqtt_bridge.store import Store
from mqtt_bridge.timebase import clock_synchronised, rfc3339, utc_now

META_KEY = "commands.newest_ts"


class Freshness:
    def __init__(self, store: Store, max_age_s: float, synced: Callable[[], bool] = clock_synchronised,
                 now: Callable[[], dt.datetime] = utc_now) -> None:
        self.store = store
        self.max_age = dt.timedelta(seconds=max_age_s)
        self.synced = synced
        self.now = now

    def check(self, ts: str) -> str | None:
        """Why the command is too old, or None if its age is acceptable."""
        try:
            sent = parse_ts(ts)
        except ValueError:
            return "ts: not a real date and time"
        references = []
        if self.synced():
            references.append(("this gateway's clock", self.now()))
        newest = self.store.get_meta(META_KEY)
        if newest is not None:
            references.append(("the newest command already accepted", parse_ts(newest)))
        for what, reference in references:
            if sent < reference - self.max_age:
                hours = self.max_age.total_seconds() / 3600
                return (f"ts: the command is older than mqtt.command_max_age_s ({hours:g} h before {what}); "
                        "it was not applied. Send it again with a fresh id and ts if it is still wanted")
        return None

    def accepted(self, ts: str) -> None:
        """Move the reference forward (never back)."""
        try:
            sent = parse_ts(ts)
        except ValueError:
            return
        newest = self.store.get_meta(META_KEY)
        if newest is None or sent > parse_ts(newest):
            self.store.set_meta(META_KEY, rfc3339(sent))
