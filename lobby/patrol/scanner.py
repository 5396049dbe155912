"""One tap, inside the caller's transaction: who and where, which round, how it counts, what to show."""

from __future__ import annotations

import datetime as dt
from typing import Any

from lobby.cardhash import card_hash
from lobby.config.model import Route
from lobby.patrol import rules
from lobby.patrol.context import PatrolContext
from lobby.patrol.messages import scan_message
from lobby.patrol.model import OK_STATUSES, VISITED, Point, Round, ScanResult, TickResult, display
from lobby.patrol.planner import Planner
from lobby.patrol.state import load_round, save_round
from mqtt_bridge.clock import Instant
from mqtt_bridge.store import Transaction
from mqtt_bridge.timebase import rfc3339


class Scanner:
    def __init__(self, ctx: PatrolContext, planner: Planner) -> None:
        self.ctx = ctx
        self.planner = planner

    def scan(self, tx: Transaction, uid: str, device: str, source: str, at: Instant, now: Instant,
             import_id: str | None = None, dedupe_key: str | None = None) -> ScanResult:
        ctx = self.ctx
        uid_hash = card_hash(ctx.card_key, uid)
        reader_cp = ctx.cp_by_reader.get(device)
        checkpoint: str | None = None
        guard: str | None = None
        extra = (source, device, uid_hash, at, now, import_id, dedupe_key)
        if uid in ctx.cp_by_tag:
            checkpoint = ctx.cp_by_tag[uid]
            if reader_cp is None:
                guard = self._session_guard(tx, device, at)
                if guard is not None:
                    self._touch_session(tx, device, guard, at)
        else:
            guard = self._guard_of_card(tx, uid, uid_hash)
            if guard is not None and reader_cp is None:
                self._touch_session(tx, device, guard, at)
                return self._record(tx, "guard", None, guard, None, None, *extra)
            checkpoint = reader_cp
        if checkpoint is None:
            return self._record(tx, "unknown_tag", None, None, None, None, *extra)
        if guard is None:
            return self._record(tx, "unknown_guard", checkpoint, None, None, None, *extra)

        r = self._route_to_round(tx, guard, checkpoint, at, now, source)
        if r is None:
            starts = [rt.checkpoints[0] for rt in ctx.routes.values() if checkpoint in rt.checkpoints]
            return self._record(tx, "out_of_order", checkpoint, guard, None, None, *extra,
                                start_name=ctx.checkpoint_name(starts[0]) if starts else None)
        verdict = rules.classify(r, checkpoint, at)
        self.planner.clear_alert(tx, verdict.clear_alert)
        if verdict.expire_first:
            self.planner.expire(tx, r, at, now, TickResult())
        else:
            save_round(tx, r)
        return self._record(tx, verdict.status, checkpoint, guard, r, verdict.point, *extra,
                            expected_name=ctx.checkpoint_name(verdict.expected))

    # ------------------------------------------------------------------ who

    def _guard_of_card(self, tx: Transaction, uid: str, uid_hash: str) -> str | None:
        if uid in self.ctx.guard_by_card:
            return self.ctx.guard_by_card[uid]
        row = tx.execute("SELECT holder_id FROM cards WHERE uid_hash = ? AND role = 'guard' AND active = 1",
                         (uid_hash,)).fetchone()
        if row is None:
            return None
        return row[0] or f"card-{uid_hash[:12]}"

    def _session_guard(self, tx: Transaction, device: str, at: Instant) -> str | None:
        row = tx.execute("SELECT guard_id, last_ts, last_boot, last_mono FROM patrol_sessions WHERE device_id = ?",
                         (device,)).fetchone()
        if row is None:
            return None
        last = Instant.from_columns(*row[1:])
        assert last is not None
        if at.after(last.plus(self.ctx.patrol.session_min * 60)):
            return None
        return str(row[0])

    def _touch_session(self, tx: Transaction, device: str, guard: str, at: Instant) -> None:
        tx.execute("INSERT INTO patrol_sessions (device_id, guard_id, last_ts, last_boot, last_mono) VALUES (?, ?, ?, ?, ?) "
                   "ON CONFLICT(device_id) DO UPDATE SET guard_id = excluded.guard_id, last_ts = excluded.last_ts, "
                   "last_boot = excluded.last_boot, last_mono = excluded.last_mono", (device, guard, *at.columns()))

    # ------------------------------------------------------------------ which round

    def _route_to_round(self, tx: Transaction, guard: str, checkpoint: str, at: Instant, now: Instant,
                        source: str) -> Round | None:
        # 1. the guard's own open round (newest first) that contains the checkpoint
        for (round_id,) in tx.execute("SELECT id FROM patrol_rounds WHERE state = 'open' AND guard_id = ? "
                                      "ORDER BY started_ts DESC, id DESC", (guard,)).fetchall():
            r = load_round(tx, round_id)
            if r.started is not None and r.started.after(at):
                continue  # an import of taps made before this round began
            self.planner.expire(tx, r, at, now, TickResult())
            if r.state == "open" and any(p.checkpoint_id == checkpoint for p in r.points):
                return r
        # 2. a planned round whose start window is open (an import may revive one the timer gave up on)
        candidates = []
        day_before = (at.wall.astimezone(self.ctx.tz).date() - dt.timedelta(days=1)).isoformat()
        for (round_id,) in tx.execute(
                "SELECT id FROM patrol_rounds WHERE (state = 'planned' OR (outcome = 'not_started' AND ? = 'wand')) "
                "AND site_day >= ? ORDER BY planned_ts, id", (source, day_before)).fetchall():
            r = load_round(tx, round_id)
            if not any(p.checkpoint_id == checkpoint for p in r.points):
                continue
            assert r.earliest is not None and r.start_due is not None
            if r.earliest.after(at) or at.after(r.start_due.plus(r.grace_s)):
                continue
            first = r.points[0].checkpoint_id == checkpoint
            candidates.append((0 if first else 1, r))
        if candidates:
            candidates.sort(key=lambda c: c[0])
            r = candidates[0][1]
            if r.state == "closed":
                self.planner.clear_alert(tx, r.alert_key)
                rules.reset_to_planned(r)
            rules.start(r, guard, at, source)
            return r
        # 3. an ad hoc round at a route's first checkpoint -- unless the guard just finished a round of
        #    that route there (a habitual last tap at the start point is a repeat, not a new round)
        for route in self.ctx.routes.values():
            if route.checkpoints[0] == checkpoint:
                finished = self._just_finished(tx, guard, route, checkpoint, at)
                if finished is not None:
                    return finished
                r = rules.new_round(route, self.ctx.patrol, now, planned_kind=None, plan_key=None,
                                    site_day=self.ctx.site_day(at))
                rules.start(r, guard, at, source)
                save_round(tx, r, new=True)
                return r
        return None

    def _just_finished(self, tx: Transaction, guard: str, route: Route, checkpoint: str, at: Instant) -> Round | None:
        row = tx.execute("SELECT id FROM patrol_rounds WHERE guard_id = ? AND route_id = ? AND state = 'closed' "
                         "AND started_ts IS NOT NULL ORDER BY closed_ts DESC LIMIT 1", (guard, route.id)).fetchone()
        if row is None:
            return None
        r = load_round(tx, row[0])
        visits = [p.visited for p in r.points if p.visited is not None]
        if not any(p.checkpoint_id == checkpoint and p.state in VISITED for p in r.points) or not visits:
            return None
        last = max(visits, key=lambda v: v.wall)
        if at.after(last.plus(route.max_gap_min * 60)) or last.after(at):
            return None
        return r

    # ------------------------------------------------------------------ the record and the message

    def _record(self, tx: Transaction, status: str, checkpoint: str | None, guard: str | None, r: Round | None,
                point: Point | None, source: str, device: str, uid_hash: str, at: Instant, now: Instant,
                import_id: str | None, dedupe_key: str | None, *, expected_name: str | None = None,
                start_name: str | None = None) -> ScanResult:
        ctx = self.ctx
        cursor = tx.execute(
            "INSERT INTO patrol_scans (status, source, device_id, uid_hash, checkpoint_id, guard_id, round_id, pos, "
            "scanned_ts, scanned_boot, scanned_mono, received_ts, clock_synced, site_day, import_id, dedupe_key) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (status, source, device, uid_hash, checkpoint, guard, r.id if r else None, point.pos if point else None,
             *at.columns(), now.ts, int(at.synced), ctx.site_day(at), import_id, dedupe_key))
        scan_id = int(cursor.lastrowid or 0)
        if point is not None and status in VISITED and r is not None:
            point.scan_id = scan_id
            tx.execute("UPDATE patrol_points SET scan_id = ? WHERE round_id = ? AND pos = ?", (scan_id, r.id, point.pos))
        nxt = rules.next_point(r) if r is not None and r.state == "open" else None
        completed = r is not None and not r.pending() and status in VISITED
        data: dict[str, Any] = {
            "scan_id": scan_id, "status": status, "checkpoint_id": checkpoint, "guard_id": guard,
            "round_id": r.id if r else None, "route_id": r.route_id if r else None,
            "point": point.pos if point else None, "points": len(r.points) if r else None,
            "visited": r.count(*VISITED) if r else None,
            "source": source, "device_id": device, "scanned_ts": at.ts, "received_ts": now.ts,
            "due_ts": rfc3339(display(point.due, now)) if point is not None and point.due is not None else None,
        }
        if import_id:
            data["import_id"] = import_id
        record = ctx.emit(tx, "patrol.scan", data)
        tx.execute("UPDATE patrol_scans SET event_id = ? WHERE id = ?", (record.id, scan_id))
        if completed and r is not None:
            self.planner.close(tx, r, "abandoned" if r.count("missed") else "completed", now)
        next_due = display(nxt.due, now).astimezone(ctx.tz) if nxt is not None and nxt.due is not None else None
        zh, en = scan_message(status, checkpoint=ctx.checkpoint_name(checkpoint), point=point.pos if point else None,
                              points=len(r.points) if r else None,
                              next_name=ctx.checkpoint_name(nxt.checkpoint_id) if nxt else None, next_due=next_due,
                              completed=completed, expected_name=expected_name, start_name=start_name)
        return ScanResult(
            status=status, ok=status in OK_STATUSES, message_zh=zh, message_en=en, scan_id=scan_id, event_id=record.id,
            checkpoint_id=checkpoint, checkpoint_name=ctx.checkpoint_name(checkpoint), guard_id=guard,
            round_id=r.id if r else None, route_id=r.route_id if r else None, point=point.pos if point else None,
            points=len(r.points) if r else None, visited=r.count(*VISITED) if r else None,
            next_checkpoint_id=nxt.checkpoint_id if nxt else None,
            next_checkpoint_name=ctx.checkpoint_name(nxt.checkpoint_id) if nxt else None, next_due=next_due,
            round_outcome=r.outcome if completed and r is not None else None)
