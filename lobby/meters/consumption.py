"""Daily and monthly consumption per meter, for billing, from the cumulative registers.

The edge of a period is the first accepted reading of the billing register at or
after the period's first midnight (site time zone), kept in ``meter_day_edges``;
consumption is the difference of the register's odometer between the two edges
(so a meter reset inside the period does not make it negative, and days add up
to their month). A period is ``complete`` when both edges were read within the
edge window after their midnight (twice the meter's interval, at least 5 min, at
most 1 h). A period is published once its closing edge is in, or once the edge
window after its end has passed without one (then ``complete`` is false and the
last reading before stands in). The table's primary key makes each period one row
and one ``meter.consumption`` event, whatever restarts happen.

Consumption events go on the CRITICAL lane: they are billing records, few (one per
meter per day and month), and must not be thinned with the bulk telemetry.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from lobby.config.model import MeterConfig
from mqtt_bridge.store import Lane, Store
from mqtt_bridge.timebase import parse_rfc3339, rfc3339

log = logging.getLogger(__name__)

MAX_BACKLOG_DAYS = 400  # after a long outage, periods older than this are not filled in


@dataclass(frozen=True)
class Edge:
    day: str
    read_ts: str
    value: float
    odometer: float

    @property
    def at(self) -> dt.datetime:
        return parse_rfc3339(self.read_ts)


@dataclass(frozen=True, slots=True)
class BillingMeter:
    meter: MeterConfig
    point: str
    unit: str


def edge_window(meter: MeterConfig) -> dt.timedelta:
    return dt.timedelta(seconds=min(max(2 * meter.interval_s, 300.0), 3600.0))


def _midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz)


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


class ConsumptionJob:
    def __init__(self, store: Store, meters: list[BillingMeter], tz: dt.tzinfo) -> None:
        self.store = store
        self.meters = meters
        self.tz = tz

    # --- reading the store ---------------------------------------------------------------------

    def _edge(self, meter_id: str, point: str, day: dt.date) -> Edge | None:
        rows = self.store.query(
            "SELECT day, read_ts, value, odometer FROM meter_day_edges WHERE meter_id = ? AND point = ? AND day >= ? "
            "ORDER BY day LIMIT 1", (meter_id, point, day.isoformat()))
        return Edge(**rows[0]) if rows else None

    def _latest(self, meter_id: str, point: str) -> Edge | None:
        rows = self.store.query("SELECT read_ts, value, odometer FROM meter_registers WHERE meter_id = ? AND point = ?",
                                (meter_id, point))
        if not rows:
            return None
        row = rows[0]
        day = parse_rfc3339(row["read_ts"]).astimezone(self.tz).date().isoformat()
        return Edge(day, row["read_ts"], row["value"], row["odometer"])

    def _first_day(self, meter_id: str, point: str) -> dt.date | None:
        day = self.store.scalar("SELECT min(day) FROM meter_day_edges WHERE meter_id = ? AND point = ?",
                                (meter_id, point))
        return None if day is None else dt.date.fromisoformat(day)

    def _last_done(self, meter_id: str, period: str) -> str | None:
        value = self.store.scalar("SELECT max(start) FROM meter_consumption WHERE meter_id = ? AND period = ?",
                                  (meter_id, period))
        return None if value is None else str(value)

    # --- computing -----------------------------------------------------------------------------

    def _period(self, bm: BillingMeter, period: str, start: dt.date, end: dt.date,
                now: dt.datetime) -> dict[str, Any] | None:
        """The consumption row for [start, end), or None if it is too early to tell."""
        meter_id, point = bm.meter.id, bm.point
        window = edge_window(bm.meter)
        end_boundary = _midnight(end, self.tz)
        closing = self._edge(meter_id, point, end)
        closing_ok = closing is not None and closing.day == end.isoformat() and closing.at - end_boundary <= window
        if not closing_ok and now < end_boundary + window:
            return None
        opening = self._edge(meter_id, point, start)
        latest = self._latest(meter_id, point)
        if opening is None or opening.day >= end.isoformat():
            # No reading inside the period at all.
            opening = closing or latest
        if closing is None:
            closing = latest if latest is not None and opening is not None and latest.read_ts >= opening.read_ts \
                else opening
        if opening is None or closing is None:
            return None  # never read: nothing to bill
        start_boundary = _midnight(start, self.tz)
        complete = (opening.day == start.isoformat() and opening.at - start_boundary <= window and closing_ok)
        label = start.isoformat() if period == "day" else start.isoformat()[:7]
        return {
            "meter_id": meter_id, "period": period, "start": label, "point": point, "unit": bm.unit,
            "consumption": round(max(closing.odometer - opening.odometer, 0.0), 6),
            "first": opening.value, "last": closing.value,
            "first_ts": opening.read_ts, "last_ts": closing.read_ts, "complete": complete,
        }

    def _pending(self, bm: BillingMeter, now: dt.datetime) -> list[dict[str, Any]]:
        meter_id, point = bm.meter.id, bm.point
        first = self._first_day(meter_id, point)
        if first is None:
            return []
        today = now.astimezone(self.tz).date()
        floor = today - dt.timedelta(days=MAX_BACKLOG_DAYS)
        rows: list[dict[str, Any]] = []

        done = self._last_done(meter_id, "day")
        day = max(first, floor) if done is None else dt.date.fromisoformat(done) + dt.timedelta(days=1)
        while day < today:
            row = self._period(bm, "day", day, day + dt.timedelta(days=1), now)
            if row is None:
                break
            rows.append(row)
            day += dt.timedelta(days=1)

        done = self._last_done(meter_id, "month")
        month = (max(first, floor).replace(day=1) if done is None
                 else _next_month(dt.date.fromisoformat(done + "-01")))
        this_month = today.replace(day=1)
        while month < this_month:
            row = self._period(bm, "month", month, _next_month(month), now)
            if row is None:
                break
            rows.append(row)
            month = _next_month(month)
        return rows

    def run(self, now: dt.datetime) -> int:
        """Publish every period that is due and not yet published; returns the events written."""
        pending = []
        for bm in self.meters:
            try:
                pending += self._pending(bm, now)
            except Exception:  # one meter's data must not stop the others' bills
                log.exception("%s: consumption not computed", bm.meter.id)
        if not pending:
            return 0
        written = 0
        computed = rfc3339(now)
        with self.store.transaction() as tx:
            for row in pending:
                cursor = tx.execute(
                    "INSERT INTO meter_consumption (meter_id, period, start, point, unit, consumption, first, last, "
                    "first_ts, last_ts, complete, computed_ts, event_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '') "
                    "ON CONFLICT (meter_id, period, start) DO NOTHING",
                    (row["meter_id"], row["period"], row["start"], row["point"], row["unit"], row["consumption"],
                     row["first"], row["last"], row["first_ts"], row["last_ts"], int(row["complete"]), computed))
                if cursor.rowcount != 1:
                    continue  # already published (another process, or a race with ourselves)
                record = tx.emit("meter", "meter.consumption", row, Lane.CRITICAL)
                tx.execute("UPDATE meter_consumption SET event_id = ? WHERE meter_id = ? AND period = ? AND start = ?",
                           (record.id, row["meter_id"], row["period"], row["start"]))
                written += 1
        return written
