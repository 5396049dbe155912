"""Bound guessing at the kiosk: invitation codes, phone digits, ticket numbers.

Every wrong lookup is a row in the store (`guess_failures`), so neither a
restart nor a success resets the count: a success clears nothing, because an
attacker who owns one valid code would otherwise reset the window with it.

Within a sliding window, the first `max_failures - 1` wrong tries are free;
from then on each further try waits 2, 4, 8, 16 s ... up to `delay_max_s`
(30 s by default). Nobody is locked out: the next honest visitor waits at most
that long and is offered the front desk meanwhile. Once the delays begin, staff
get an alert; it clears when the window is quiet again. Times are compared on
the monotonic clock within one boot and on the wall clock across boots
(Instant.seconds_since), so a wall-clock step neither shortens nor extends a wait.

docs/SECURITY.md turns these numbers into the time an attacker needs.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from mqtt_bridge.alerts import AlertEngine
from mqtt_bridge.clock import Instant, parse_ts
from mqtt_bridge.store import Store
from mqtt_bridge.timebase import rfc3339

TITLES = {
    "invitation_code": "邀请码多次输入错误 Repeated wrong invitation codes at the kiosk",
    "phone_last4": "手机尾号多次输入错误 Repeated wrong phone digits at the kiosk",
    "ticket_no": "单号多次输入错误 Repeated wrong ticket numbers at the kiosk",
}


@dataclass(frozen=True)
class GuessPolicy:
    max_failures: int  # wrong tries within the window before delays begin
    window_s: float
    delay_max_s: float

    def delay_s(self, failures: int) -> float:
        """The wait after the `failures`-th wrong try within the window."""
        if failures < self.max_failures:
            return 0.0
        return float(min(self.delay_max_s, 2 ** (failures - self.max_failures + 1)))


class GuessLimiter:
    """One lookup kind at one kiosk. Safe to share between threads and processes (the store serialises)."""

    def __init__(self, store: Store, alerts: AlertEngine | None, kind: str, kiosk: str, policy: GuessPolicy) -> None:
        if kind not in TITLES:
            raise ValueError(f"unknown lookup kind {kind!r}")
        self.store = store
        self.alerts = alerts
        self.kind = kind
        self.kiosk = kiosk[:64]
        self.policy = policy

    @property
    def alert_key(self) -> str:
        return f"kiosk.guessing:{self.kind}"

    def wait_s(self, now: Instant) -> int | None:
        """Whole seconds until the next try, or None if a try may be made now."""
        last, failures = self._recent(now)
        if last is None:
            self._quiet(failures)
            return None
        left = self.policy.delay_s(failures) - now.seconds_since(last)
        if left <= 0:
            self._quiet(failures)
            return None
        return max(1, math.ceil(min(left, self.policy.delay_max_s)))

    def failed(self, now: Instant) -> None:
        """Count one wrong try (and alert staff once the delays begin)."""
        with self.store.transaction() as tx:
            tx.execute("INSERT INTO guess_failures (kind, kiosk, ts, boot_id, mono_ns) VALUES (?, ?, ?, ?, ?)",
                       (self.kind, self.kiosk, now.ts, now.boot_id, now.mono_ns))
            horizon = now.wall - dt.timedelta(seconds=self.policy.window_s + 86400)  # a day's slack for clock steps
            tx.execute("DELETE FROM guess_failures WHERE kind = ? AND kiosk = ? AND ts < ?",
                       (self.kind, self.kiosk, rfc3339(horizon)))
        _, failures = self._recent(now)
        if failures >= self.policy.max_failures and self.alerts is not None:
            self.alerts.raise_alert(self.alert_key, "warning", TITLES[self.kind],
                                    {"kiosk": self.kiosk, "failures_in_window": failures,
                                     "window_min": round(self.policy.window_s / 60, 1)})

    # ------------------------------------------------------------------ inside

    def _recent(self, now: Instant) -> tuple[Instant | None, int]:
        """The latest failure within the window and how many there are."""
        rows = self.store.query("SELECT ts, boot_id, mono_ns FROM guess_failures WHERE kind = ? AND kiosk = ? "
                                "ORDER BY id DESC LIMIT 500", (self.kind, self.kiosk))
        latest: Instant | None = None
        count = 0
        for row in rows:
            seen = Instant(parse_ts(row["ts"]), row["boot_id"] or "", int(row["mono_ns"]))
            age = now.seconds_since(seen)
            if age > self.policy.window_s:
                continue
            count += 1
            if latest is None or seen.after(latest):
                latest = seen
        return latest, count

    def _quiet(self, failures: int) -> None:
        if failures < self.policy.max_failures and self.alerts is not None:
            active = self.alerts.get(self.alert_key)
            if active is not None and active["state"] == "active":
                self.alerts.clear(self.alert_key)
