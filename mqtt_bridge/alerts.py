"""One alert engine: stable keys, raise/clear with hysteresis, acknowledgement.

The same fault is one alert: raising an active alert again only counts it. Every
change of state (raised, cleared, acknowledged) writes the alerts row and an
`alert.*` event in one transaction; the bridge then mirrors the row on the
retained topic `<base>/alerts/<key>` (empty once cleared and acknowledged).
"""

from __future__ import annotations

import contextlib
import enum
import json
import re
import threading
from dataclasses import dataclass
from typing import Any

from mqtt_bridge.store import Lane, Store, Transaction
from mqtt_bridge.timebase import Stamp

_KEY = re.compile(r"^[a-z0-9_.:-]{1,120}\Z")


class Severity(str, enum.Enum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


def alert_key(*parts: str) -> str:
    """Build a stable key such as 'meter.offline:elec-lobby' from safe parts."""
    key = ":".join(parts)
    key = re.sub(r"[^a-z0-9_.:-]", "-", key.lower())[:120]
    if not _KEY.match(key):
        raise ValueError(f"cannot build an alert key from {parts!r}")
    return key


def alert_state(row: dict[str, Any]) -> dict[str, Any]:
    """An alerts row as the contract's alert state object."""
    return {
        "key": row["key"], "severity": row["severity"], "state": row["state"],
        "acked": bool(row["acked"]), "acked_by": row["acked_by"], "title": row["title"],
        "detail": json.loads(row["detail"]), "first_seen": row["first_seen"],
        "last_seen": row["last_seen"], "cleared_at": row["cleared_at"], "count": row["count"],
    }


def retained_payload(row: dict[str, Any]) -> dict[str, Any] | None:
    """What the retained alert topic shows; None means an empty payload (cleared and acknowledged)."""
    if row["state"] == "cleared" and row["acked"]:
        return None
    return alert_state(row)


@dataclass
class _Streak:
    bad: int = 0
    good: int = 0


class AlertEngine:
    """Raise, clear and acknowledge alerts in the store (safe from several threads)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._streaks: dict[str, _Streak] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ changes

    def raise_alert(self, key: str, severity: Severity | str, title: str,
                    detail: dict[str, Any] | None = None, tx: Transaction | None = None) -> bool:
        """Make the alert active. Returns True if this changed its state (an event was written)."""
        if not _KEY.match(key):
            raise ValueError(f"invalid alert key {key!r}")
        severity = Severity(severity)
        with self._tx(tx) as t:
            row = self._row(t, key)
            now = Stamp.now().ts
            detail_json = json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)
            if row is None:
                t.execute(
                    "INSERT INTO alerts (key, severity, state, acked, title, detail, first_seen, last_seen, count, version) "
                    "VALUES (?, ?, 'active', 0, ?, ?, ?, ?, 1, 1)",
                    (key, severity.value, title[:200], detail_json, now, now))
            elif row["state"] == "cleared":
                t.execute(
                    "UPDATE alerts SET severity=?, state='active', acked=0, acked_by=NULL, title=?, detail=?, "
                    "first_seen=?, last_seen=?, cleared_at=NULL, count=count+1, version=version+1 WHERE key=?",
                    (severity.value, title[:200], detail_json, now, now, key))
            elif _RANK[severity] > _RANK[Severity(row["severity"])]:
                t.execute(
                    "UPDATE alerts SET severity=?, title=?, detail=?, last_seen=?, count=count+1, acked=0, "
                    "acked_by=NULL, version=version+1 WHERE key=?",
                    (severity.value, title[:200], detail_json, now, key))
            else:  # the same fault again: one alert, counted
                t.execute("UPDATE alerts SET last_seen=?, count=count+1 WHERE key=?", (now, key))
                return False
            self._emit(t, key, "alert.raised")
            return True

    def escalate(self, key: str, severity: Severity | str, title: str, detail: dict[str, Any],
                 tx: Transaction | None = None) -> bool:
        """An active alert climbs (new title and detail, e.g. a higher level): it asks for a new
        acknowledgement and writes `alert.escalated`. Raises it first if it is not active."""
        severity = Severity(severity)
        with self._tx(tx) as t:
            row = self._row(t, key)
            if row is None or row["state"] != "active":
                return self.raise_alert(key, severity, title, detail, tx=t)
            if _RANK[Severity(row["severity"])] > _RANK[severity]:
                severity = Severity(row["severity"])  # never downgraded by climbing
            t.execute("UPDATE alerts SET severity=?, title=?, detail=?, last_seen=?, count=count+1, acked=0, "
                      "acked_by=NULL, version=version+1 WHERE key=?",
                      (severity.value, title[:200], json.dumps(detail, ensure_ascii=False, sort_keys=True),
                       Stamp.now().ts, key))
            self._emit(t, key, "alert.escalated")
            return True

    def clear(self, key: str, tx: Transaction | None = None) -> bool:
        with self._tx(tx) as t:
            row = self._row(t, key)
            if row is None or row["state"] == "cleared":
                return False
            now = Stamp.now().ts
            t.execute("UPDATE alerts SET state='cleared', cleared_at=?, last_seen=?, version=version+1 WHERE key=?",
                      (now, now, key))
            self._emit(t, key, "alert.cleared")
            return True

    def ack(self, key: str, by: str = "central", tx: Transaction | None = None) -> bool:
        """Acknowledge; returns False if there is no such alert or it was already acknowledged."""
        with self._tx(tx) as t:
            row = self._row(t, key)
            if row is None or row["acked"]:
                return False
            t.execute("UPDATE alerts SET acked=1, acked_by=?, version=version+1 WHERE key=?", (by[:64], key))
            self._emit(t, key, "alert.acked")
            return True

    def observe(self, key: str, bad: bool, *, severity: Severity | str, title: str,
                detail: dict[str, Any] | None = None, raise_after: int = 1, clear_after: int = 1) -> bool:
        """Hysteresis: raise after `raise_after` bad observations in a row, clear after `clear_after` good ones."""
        with self._lock:
            streak = self._streaks.setdefault(key, _Streak())
            if bad:
                streak.bad, streak.good = streak.bad + 1, 0
                fire = streak.bad >= raise_after
            else:
                streak.good, streak.bad = streak.good + 1, 0
                fire = streak.good >= clear_after
        if bad and fire:
            return self.raise_alert(key, severity, title, detail)
        if not bad and fire:
            return self.clear(key)
        return False

    # ------------------------------------------------------------------ reading

    def get(self, key: str) -> dict[str, Any] | None:
        rows = self.store.query("SELECT * FROM alerts WHERE key = ?", (key,))
        return rows[0] if rows else None

    def active(self) -> list[dict[str, Any]]:
        return self.store.query("SELECT * FROM alerts WHERE state = 'active' OR acked = 0 ORDER BY first_seen")

    # ------------------------------------------------------------------ helpers

    def _tx(self, tx: Transaction | None) -> contextlib.AbstractContextManager[Transaction]:
        return contextlib.nullcontext(tx) if tx is not None else self.store.transaction()

    @staticmethod
    def _row(t: Transaction, key: str) -> dict[str, Any] | None:
        cursor = t.execute("SELECT * FROM alerts WHERE key = ?", (key,))
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cursor.description], row))

    def _emit(self, t: Transaction, key: str, type_: str) -> None:
        row = self._row(t, key)
        assert row is not None
        t.emit("alert", type_, alert_state(row), Lane.CRITICAL)
