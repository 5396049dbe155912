"""The patrol timers: plan scheduled rounds, expire windows, close rounds, clear alerts, the daily report.

`advance()` brings every timer up to a moment inside the caller's transaction; the
gateway's `tick()` and every scan call it first, so a missed checkpoint is found
whichever process looks first.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from lobby.patrol import rules
from lobby.patrol.context import PatrolContext
from lobby.patrol.model import VISITED, Round, TickResult, display
from lobby.patrol.schedule import Occurrence, next_handover
from lobby.patrol.state import get_meta, load_round, open_round_ids, save_round, set_meta
from mqtt_bridge.alerts import Severity, alert_key
from mqtt_bridge.clock import Instant
from mqtt_bridge.store import Transaction
from mqtt_bridge.timebase import rfc3339


class Planner:
    def __init__(self, ctx: PatrolContext) -> None:
        self.ctx = ctx
        self.patrol = ctx.patrol

    # ------------------------------------------------------------------ the timer pass

    def advance(self, tx: Transaction, now: Instant, result: TickResult | None = None) -> None:
        result = result if result is not None else TickResult()
        self.since(tx, now)
        self._plan(tx, now, result)
        for round_id in open_round_ids(tx):
            self.expire(tx, load_round(tx, round_id), now, now, result)
        self._clear_due_alerts(tx, now, result)

    def since(self, tx: Transaction, now: Instant) -> dt.datetime:
        """When this store started planning rounds (rounds planned before are never written)."""
        value = get_meta(tx, "patrol.since")
        if value is None:
            # first run: rounds whose start window may still be open are planned, older ones are not
            since = now.wall - dt.timedelta(minutes=self.patrol.start_window_min + self.patrol.grace_min)
            set_meta(tx, "patrol.since", rfc3339(since))
            return since
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))

    def _wall_step(self, tx: Transaction, now: Instant) -> float:
        """Seconds the wall clock has stepped (against the monotonic clock) since the engine last looked, this boot.

        The offset wall - monotonic is constant while the clock only ticks (NTP slews are tiny);
        it is written to meta only when it changes by more than a second, so ticks do not write.
        """
        offset = now.wall.timestamp() - now.mono_ns / 1e9
        value = get_meta(tx, "patrol.clock")
        boot, previous = (value.split(" ", 1) if value else ("", "0"))
        if boot == now.boot_id and abs(offset - float(previous)) <= 1.0:
            return 0.0
        set_meta(tx, "patrol.clock", f"{now.boot_id} {offset:.3f}")
        return offset - float(previous) if boot == now.boot_id else 0.0

    def _plan(self, tx: Transaction, now: Instant, result: TickResult) -> None:
        """Write the planned rounds whose early window has opened (yesterday's and today's schedules).

        Schedules are wall-clock times of day. If a forward wall step (NTP after boot, a manual
        setting) carried the clock past a round's opening, its windows run from the moment it
        opened here rather than being over at once: a step neither fires nor loses a window.
        """
        step = self._wall_step(tx, now)
        if not self.patrol.schedules:
            return
        since = self.since(tx, now)
        early = dt.timedelta(minutes=self.patrol.early_start_min)
        today = now.wall.astimezone(self.ctx.tz).date()
        unstepped = now.wall - dt.timedelta(seconds=max(step, 0.0))  # where the wall would be without the step
        for day in (today - dt.timedelta(days=1), today):
            for occ in self.ctx.occurrences(day):
                if occ.planned < since or occ.planned - early > now.wall or occ.route_id not in self.ctx.routes:
                    continue
                if tx.execute("SELECT 1 FROM patrol_rounds WHERE plan_key = ?", (occ.key,)).fetchone():
                    continue
                self._create_planned(tx, occ, now, opened_by_step=step > 60 and occ.planned - early > unstepped)
                result.planned.append(occ.key)

    def _create_planned(self, tx: Transaction, occ: Occurrence, now: Instant, opened_by_step: bool = False) -> Round:
        route = self.ctx.routes[occ.route_id]
        # anchor the wall-clock plan on this boot's monotonic clock from now on
        ahead = (occ.planned - now.wall).total_seconds()
        if opened_by_step:
            ahead = max(ahead, 0.0)  # its start window runs in full from the moment the step opened it
        planned = Instant(occ.planned, now.boot_id, now.plus(ahead).mono_ns, now.synced)
        r = rules.new_round(route, self.patrol, now, planned_kind=occ.kind, plan_key=occ.key,
                            site_day=self.ctx.site_day(occ.planned))
        r.state = "planned"
        r.planned = planned
        r.start_due = planned.plus(self.patrol.start_window_min * 60)
        r.earliest = planned.plus(-self.patrol.early_start_min * 60)
        save_round(tx, r, new=True)
        return r

    # ------------------------------------------------------------------ expiry and closing

    def expire(self, tx: Transaction, r: Round, t: Instant, now: Instant, result: TickResult) -> None:
        """Settle what has expired by `t`: a planned round not started, pending points missed."""
        grace = r.grace_s
        if r.state == "planned":
            assert r.start_due is not None
            if t.after(r.start_due.plus(grace)):
                for p in r.points:
                    p.state = "missed"
                r.alert_key = alert_key("patrol.not_started", r.id)
                self._raise(tx, r, r.alert_key, "巡更未开始 Patrol round not started: "
                            + self.ctx.route_name(r.route_id), {
                                "round_id": r.id, "route_id": r.route_id, "plan_key": r.plan_key,
                                "planned": r.planned.ts if r.planned else None,
                                "start_due": r.start_due.ts}, now)
                result.not_started.append(r.id)
                self.close(tx, r, "not_started", now)
                result.closed.append(r.id)
            return
        if r.state != "open":
            return
        changed = False
        for p in r.points:
            if p.state == "pending" and p.due is not None and t.after(p.due.plus(grace)):
                p.state = "missed"
                p.alert_key = rules.missed_key(r, p)
                self._raise(tx, r, p.alert_key, "巡更漏检 Patrol checkpoint missed: "
                            + (self.ctx.checkpoint_name(p.checkpoint_id) or p.checkpoint_id), {
                                "round_id": r.id, "route_id": r.route_id, "checkpoint_id": p.checkpoint_id,
                                "point": p.pos, "points": len(r.points), "guard_id": r.guard_id,
                                "due": rfc3339(display(p.due, now))},
                            now)
                result.missed.append((r.id, p.checkpoint_id))
                changed = True
        if not r.pending():
            self.close(tx, r, "abandoned" if r.count("missed") else "completed", now)
            result.closed.append(r.id)
        elif changed:
            save_round(tx, r)

    def close(self, tx: Transaction, r: Round, outcome: str, now: Instant) -> None:
        r.state, r.outcome, r.closed_ts = "closed", outcome, now.ts
        r.revision += 1
        save_round(tx, r)
        self.ctx.emit(tx, "patrol.round", self._round_data(r, now))

    # ------------------------------------------------------------------ alerts

    def _raise(self, tx: Transaction, r: Round, key: str, title: str, detail: dict[str, Any], now: Instant) -> None:
        self.ctx.alerts.raise_alert(key, Severity.WARNING, title, {k: v for k, v in detail.items() if v is not None},
                                    tx=tx)
        handover = next_handover(self.ctx.cfg.shifts, self.ctx.tz, now.wall)
        clear = now.plus((handover - now.wall).total_seconds())
        tx.execute("INSERT INTO patrol_alerts (key, round_id, clear_ts, clear_boot, clear_mono, state) "
                   "VALUES (?, ?, ?, ?, ?, 'active') ON CONFLICT(key) DO UPDATE SET clear_ts = excluded.clear_ts, "
                   "clear_boot = excluded.clear_boot, clear_mono = excluded.clear_mono, state = 'active'",
                   (key, r.id, *clear.columns()))

    def clear_alert(self, tx: Transaction, key: str | None) -> None:
        if key is None:
            return
        self.ctx.alerts.clear(key, tx=tx)
        tx.execute("UPDATE patrol_alerts SET state = 'cleared' WHERE key = ?", (key,))

    def _clear_due_alerts(self, tx: Transaction, now: Instant, result: TickResult) -> None:
        """Patrol alerts clear at the next shift handover (they stay visible until acknowledged)."""
        rows = tx.execute("SELECT key, clear_ts, clear_boot, clear_mono FROM patrol_alerts WHERE state = 'active'").fetchall()
        for key, *cols in rows:
            due = Instant.from_columns(*cols)
            assert due is not None
            if not due.after(now):
                self.clear_alert(tx, key)
                result.cleared.append(key)

    # ------------------------------------------------------------------ the daily report

    def daily_report(self, tx: Transaction, now: Instant) -> str | None:
        """Publish patrol.report for yesterday once the local time passes patrol.report_at."""
        if not (self.patrol.routes and (self.patrol.schedules or self.patrol.guards)):
            return None
        local = now.wall.astimezone(self.ctx.tz)
        if local.time() < self.patrol.report_at:
            return None
        day = local.date() - dt.timedelta(days=1)
        last = get_meta(tx, "patrol.report_day")
        if last is not None and last >= day.isoformat():
            return None
        if self.since(tx, now).astimezone(self.ctx.tz).date() > day:
            return None  # installed after that day
        from lobby.patrol.report import build_report, event_data

        report = build_report(tx.conn, day, now, tz=self.ctx.tz, occurrences=self.ctx.occurrences)
        self.ctx.emit(tx, "patrol.report", event_data(report))
        set_meta(tx, "patrol.report_day", day.isoformat())
        return day.isoformat()

    @staticmethod
    def _round_data(r: Round, now: Instant) -> dict[str, Any]:
        return {
            "round_id": r.id, "route_id": r.route_id, "outcome": r.outcome, "revision": r.revision,
            "scheduled": r.plan_key is not None, "schedule_kind": r.schedule_kind,
            "planned_ts": r.planned.ts if r.planned else None, "started_ts": r.started.ts if r.started else None,
            "ended_ts": now.ts, "site_day": r.site_day, "guard_id": r.guard_id,
            "points": len(r.points), "done": r.count(*VISITED), "missed": r.count("missed"),
            "on_time": r.count("on_time"), "late": r.count("late"), "early": r.count("early"),
            "out_of_order": r.count("out_of_order"), "repeated": sum(p.repeats for p in r.points),
            "missed_checkpoints": [p.checkpoint_id for p in r.points if p.state == "missed"],
        }
