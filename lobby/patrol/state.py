"""Rounds in the store: every read and write of patrol_rounds and patrol_points."""

from __future__ import annotations

from typing import Any

from lobby.patrol.model import Point, Round
from mqtt_bridge.clock import Instant
from mqtt_bridge.store import Transaction

ROUND_COLS = ("id route_id plan_key schedule_kind ordered grace_s min_gap_s state outcome guard_id site_day "
              "planned_ts planned_boot planned_mono start_due_ts start_due_boot start_due_mono "
              "earliest_ts earliest_boot earliest_mono started_ts started_boot started_mono start_source "
              "last_pos alert_key created_ts closed_ts revision").split()
POINT_COLS = ("round_id pos checkpoint_id window_s state due_ts due_boot due_mono visited_ts visited_boot "
              "visited_mono scan_id repeats alert_key").split()


def _cols(moment: Instant | None) -> tuple[Any, Any, Any]:
    return (None, None, None) if moment is None else moment.columns()


def _moment(v: dict[str, Any], name: str) -> Instant | None:
    return Instant.from_columns(v[f"{name}_ts"], v[f"{name}_boot"], v[f"{name}_mono"])


def load_round(tx: Transaction, round_id: str) -> Round:
    row = tx.execute(f"SELECT {', '.join(ROUND_COLS)} FROM patrol_rounds WHERE id = ?", (round_id,)).fetchone()
    v = dict(zip(ROUND_COLS, row))
    r = Round(id=v["id"], route_id=v["route_id"], plan_key=v["plan_key"], schedule_kind=v["schedule_kind"],
              ordered=bool(v["ordered"]), grace_s=v["grace_s"], min_gap_s=v["min_gap_s"], state=v["state"],
              site_day=v["site_day"], created_ts=v["created_ts"], outcome=v["outcome"], guard_id=v["guard_id"],
              planned=_moment(v, "planned"), start_due=_moment(v, "start_due"), earliest=_moment(v, "earliest"),
              started=_moment(v, "started"), start_source=v["start_source"], last_pos=v["last_pos"],
              alert_key=v["alert_key"], closed_ts=v["closed_ts"], revision=v["revision"])
    for prow in tx.execute(f"SELECT {', '.join(POINT_COLS)} FROM patrol_points WHERE round_id = ? ORDER BY pos",
                           (round_id,)).fetchall():
        p = dict(zip(POINT_COLS, prow))
        r.points.append(Point(pos=p["pos"], checkpoint_id=p["checkpoint_id"], window_s=p["window_s"],
                              state=p["state"], due=_moment(p, "due"), visited=_moment(p, "visited"),
                              scan_id=p["scan_id"], repeats=p["repeats"], alert_key=p["alert_key"]))
    return r


def save_round(tx: Transaction, r: Round, new: bool = False) -> None:
    values = (r.id, r.route_id, r.plan_key, r.schedule_kind, int(r.ordered), r.grace_s, r.min_gap_s, r.state,
              r.outcome, r.guard_id, r.site_day, *_cols(r.planned), *_cols(r.start_due), *_cols(r.earliest),
              *_cols(r.started), r.start_source, r.last_pos, r.alert_key, r.created_ts, r.closed_ts, r.revision)
    marks = ", ".join("?" * len(ROUND_COLS))
    updates = ", ".join(f"{c} = excluded.{c}" for c in ROUND_COLS[1:])
    tx.execute(f"INSERT INTO patrol_rounds ({', '.join(ROUND_COLS)}) VALUES ({marks}) "
               f"ON CONFLICT(id) DO UPDATE SET {updates}", values)
    if not new:
        tx.execute("DELETE FROM patrol_points WHERE round_id = ?", (r.id,))
    marks = ", ".join("?" * len(POINT_COLS))
    tx.conn.executemany(
        f"INSERT INTO patrol_points ({', '.join(POINT_COLS)}) VALUES ({marks})",
        [(r.id, p.pos, p.checkpoint_id, p.window_s, p.state, *_cols(p.due), *_cols(p.visited), p.scan_id,
          p.repeats, p.alert_key) for p in r.points])


def open_round_ids(tx: Transaction) -> list[str]:
    return [row[0] for row in tx.execute("SELECT id FROM patrol_rounds WHERE state IN ('planned', 'open') "
                                         "ORDER BY created_ts, id").fetchall()]


def get_meta(tx: Transaction, key: str) -> str | None:
    row = tx.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(tx: Transaction, key: str, value: str) -> None:
    tx.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
               (key, value))
