"""The patrol rules as pure functions on a round: due windows and the classification of a tap.

Nothing here reads or writes the store; the scanner and the planner apply what these decide.
The rules themselves are written out in lobby/patrol/engine.py's docstring.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lobby.config.model import PatrolConfig, Route
from lobby.patrol.model import VISITED, Point, Round
from mqtt_bridge.alerts import alert_key
from mqtt_bridge.clock import Instant
from mqtt_bridge.store.ids import uuid7


def new_round(route: Route, patrol: PatrolConfig, now: Instant, *, planned_kind: str | None, plan_key: str | None,
              site_day: str) -> Round:
    r = Round(id=uuid7(), route_id=route.id, plan_key=plan_key, schedule_kind=planned_kind,
              ordered=route.ordered, grace_s=patrol.grace_min * 60, min_gap_s=route.min_gap_min * 60,
              state="open", site_day=site_day, created_ts=now.ts)
    r.points = [Point(pos, cp, route.window_min(cp) * 60) for pos, cp in enumerate(route.checkpoints, start=1)]
    return r


def start(r: Round, guard: str, at: Instant, source: str) -> None:
    r.state, r.guard_id, r.started, r.start_source = "open", guard, at, source
    recompute(r)


def reset_to_planned(r: Round) -> None:
    """A wand upload shows a round the timer had given up on was started in time: back to planned."""
    r.state, r.outcome, r.closed_ts, r.alert_key = "planned", None, None, None
    for p in r.points:
        p.state, p.due, p.visited, p.scan_id, p.alert_key = "pending", None, None, None, None


def recompute(r: Round) -> None:
    """Due times of the pending points (see the engine's docstring: Windows)."""
    if r.started is None:
        return
    if not r.ordered:
        visits = [p for p in r.points if p.state in VISITED and p.visited is not None]
        first = min(visits, key=lambda p: (p.visited.wall, p.visited.mono_ns)) if visits else None  # type: ignore[union-attr]
        budget = sum(p.window_s for p in r.points if p is not first)
        base = r.started if r.plan_key is None or first is not None else (r.start_due or r.started)
        for p in r.points:
            if p.state == "pending":
                p.due = base.plus(budget)
        return
    previous: Point | None = None
    for p in r.points:
        if p.state == "pending":
            if previous is None:
                p.due = r.start_due if r.start_due is not None else r.started
            else:
                base = previous.visited if previous.state in VISITED else previous.due
                p.due = base.plus(p.window_s) if base is not None else None
        previous = p


def missed_key(r: Round, p: Point) -> str:
    same = [q for q in r.points if q.checkpoint_id == p.checkpoint_id]
    parts = [r.id, p.checkpoint_id] + ([str(p.pos)] if len(same) > 1 else [])
    return alert_key("patrol.missed", *parts)


def next_point(r: Round) -> Point | None:
    pending = r.pending()
    if not pending:
        return None
    if r.ordered:
        return pending[0]
    return min(pending, key=lambda p: ((p.due.wall if p.due else dt.datetime.max.replace(tzinfo=dt.timezone.utc)),
                                       p.pos))


def previous_visit(r: Round, point: Point) -> Point | None:
    if r.ordered:
        before = [p for p in r.points if p.pos < point.pos]
        return before[-1] if before and before[-1].state in VISITED else None
    visits = [p for p in r.points if p.state in VISITED and p.visited is not None]
    return max(visits, key=lambda p: (p.visited.wall, p.visited.mono_ns)) if visits else None  # type: ignore[union-attr]


@dataclass(frozen=True)
class Verdict:
    """How a checkpoint tap counts in its round, and what the caller must do about it."""

    status: str
    point: Point
    expected: str | None = None  # the checkpoint that was due instead (out of order)
    clear_alert: str | None = None  # a missed point revived by an upload: its alert goes
    expire_first: bool = False  # too late: settle the round's expired points before saving


def classify(r: Round, checkpoint: str, at: Instant) -> Verdict:
    """How a tap of `checkpoint` at `at` counts in round `r` (see the engine's docstring); updates `r`."""
    first_tap = r.last_pos is None
    last = r.points[r.last_pos - 1] if r.last_pos else None
    same = [p for p in r.points if p.checkpoint_id == checkpoint]
    if last is not None and last.checkpoint_id == checkpoint:
        last.repeats += 1
        return Verdict("repeated", last)
    cleared: str | None = None
    point = next((p for p in same if p.state == "pending"), None)
    if point is None:
        missed = next((p for p in same if p.state == "missed"), None)
        if missed is not None and missed.due is not None and not at.after(missed.due.plus(r.grace_s)):
            cleared = missed.alert_key  # an upload proves it was visited in time
            missed.state, missed.alert_key = "pending", None
            point = missed
        elif missed is not None:
            missed.repeats += 1
            return Verdict("too_late", missed)
        else:
            visited = next(p for p in same if p.state in VISITED)
            visited.repeats += 1
            return Verdict("repeated", visited)
    expected: str | None = None
    status = "on_time"
    if r.ordered and (any(p.state == "pending" for p in r.points if p.pos < point.pos)
                      or any(p.state in VISITED for p in r.points if p.pos > point.pos)):
        status = "out_of_order"
        earlier = next((p for p in r.points if p.pos < point.pos and p.state == "pending"), None)
        expected = earlier.checkpoint_id if earlier else None
    elif point.due is not None and at.after(point.due):
        status = "late" if not at.after(point.due.plus(r.grace_s)) else "too_late"
    elif first_tap and r.planned is not None and r.planned.after(at):
        status = "early"
    elif r.min_gap_s and not first_tap:
        previous = previous_visit(r, point)
        if previous is not None and previous.visited is not None and at.seconds_since(previous.visited) < r.min_gap_s:
            status = "early"
    if status == "too_late":  # only when a scan arrives before the timer caught up with it
        return Verdict(status, point, None, cleared, expire_first=True)
    point.state, point.visited, point.repeats = status, at, 0
    r.last_pos = point.pos
    recompute(r)
    return Verdict(status, point, expected, cleared)
