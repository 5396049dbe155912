"""The patrol report for one site-local day (`lobby patrol report DATE`, and patrol.report).

Rounds belong to the day of their planned start (scheduled) or actual start (ad hoc);
scans to the day they were made. Counted:
- rounds: planned (scheduled), started, completed (every point visited), abandoned
  (ended with missed points), not started, unscheduled (ad hoc), still open, still planned,
  and upcoming (scheduled later that day, not yet due; random rounds are only counted);
- points: visited, missed, on time, late, early, out of order, repeated taps;
- scans: by status, including unknown tags and unknown guards;
- per guard: rounds, completed, abandoned, points visited, missed, late, early, out of order.
Only ids go into the event; the printed table adds guard names from the config for the
supervisor reading it on site.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import zoneinfo
from collections.abc import Callable
from typing import Any

from lobby.patrol.schedule import Occurrence
from mqtt_bridge.clock import Instant, parse_ts
from mqtt_bridge.timebase import rfc3339

_VISITED = ("on_time", "late", "early", "out_of_order")


def _rows(conn: sqlite3.Connection, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description or ()]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def build_report(conn: sqlite3.Connection, day: dt.date, now: Instant, *, tz: zoneinfo.ZoneInfo,
                 occurrences: Callable[[dt.date], list[Occurrence]]) -> dict[str, Any]:
    """One site-local day's report; `occurrences(day)` lists the rounds the schedules plan for a day."""
    iso = day.isoformat()
    rounds = _rows(conn, "SELECT * FROM patrol_rounds WHERE site_day = ? ORDER BY coalesce(planned_ts, started_ts), id",
                   (iso,))
    points: dict[str, list[dict[str, Any]]] = {}
    for p in _rows(conn, "SELECT p.* FROM patrol_points p JOIN patrol_rounds r ON r.id = p.round_id "
                         "WHERE r.site_day = ? ORDER BY p.round_id, p.pos", (iso,)):
        points.setdefault(p["round_id"], []).append(p)
    scans = dict(conn.execute("SELECT status, count(*) FROM patrol_scans WHERE site_day = ? GROUP BY status",
                              (iso,)).fetchall())

    # scheduled rounds of that day not yet written (their early window has not opened)
    known = {r["plan_key"] for r in rounds if r["plan_key"]}
    upcoming = 0
    for schedule_day in (day - dt.timedelta(days=1), day):
        for occ in occurrences(schedule_day):
            if occ.planned.astimezone(tz).date() == day and occ.key not in known and occ.planned > now.wall:
                upcoming += 1

    def local(ts: str | None) -> str | None:
        return parse_ts(ts).astimezone(tz).strftime("%H:%M") if ts else None

    round_list: list[dict[str, Any]] = []
    guards: dict[str, dict[str, int]] = {}
    missed_points: list[dict[str, Any]] = []
    totals = dict(visited=0, missed=0, on_time=0, late=0, early=0, out_of_order=0, repeated=0)
    for r in rounds:
        pts = points.get(r["id"], [])
        count = {state: sum(1 for p in pts if p["state"] == state) for state in ("missed", *_VISITED)}
        visited = sum(count[s] for s in _VISITED)
        repeated = sum(p["repeats"] for p in pts)
        started = r["started_ts"] is not None
        if started:  # a round never started has no points to count: it is one missed round
            totals["visited"] += visited
            totals["missed"] += count["missed"]
            for s in _VISITED:
                totals[s] += count[s]
            totals["repeated"] += repeated
            for p in pts:
                if p["state"] == "missed":
                    missed_points.append({"round_id": r["id"], "route_id": r["route_id"], "checkpoint_id": p["checkpoint_id"],
                                          "point": p["pos"], "due": local(p["due_ts"])})
        round_list.append({
            "round_id": r["id"], "route_id": r["route_id"],
            "kind": r["schedule_kind"] or "ad_hoc", "planned": local(r["planned_ts"]), "started": local(r["started_ts"]),
            "guard_id": r["guard_id"], "state": r["state"], "outcome": r["outcome"],
            "points": len(pts), "visited": visited, "missed": count["missed"] if started else len(pts),
            "late": count["late"], "early": count["early"], "out_of_order": count["out_of_order"], "repeated": repeated,
        })
        if r["guard_id"]:
            g = guards.setdefault(r["guard_id"], dict(rounds=0, completed=0, abandoned=0, open=0, visited=0, missed=0,
                                                       late=0, early=0, out_of_order=0))
            g["rounds"] += 1
            if r["outcome"] in ("completed", "abandoned"):
                g[r["outcome"]] += 1
            elif r["state"] == "open":
                g["open"] += 1
            g["visited"] += visited
            g["missed"] += count["missed"]
            for s in ("late", "early", "out_of_order"):
                g[s] += count[s]

    scheduled = [r for r in rounds if r["plan_key"]]
    return {
        "day": iso,
        "timezone": tz.key,
        "generated_ts": rfc3339(now.wall),
        "rounds": {
            "planned": len(scheduled) + upcoming,
            "started": sum(1 for r in rounds if r["started_ts"]),
            "completed": sum(1 for r in rounds if r["outcome"] == "completed"),
            "abandoned": sum(1 for r in rounds if r["outcome"] == "abandoned"),
            "not_started": sum(1 for r in rounds if r["outcome"] == "not_started"),
            "unscheduled": sum(1 for r in rounds if not r["plan_key"]),
            "open": sum(1 for r in rounds if r["state"] == "open"),
            "waiting": sum(1 for r in rounds if r["state"] == "planned"),
            "upcoming": upcoming,
        },
        "points": totals,
        "scans": {status: int(n) for status, n in sorted(scans.items())},
        "guards": [{"guard_id": gid, **vals} for gid, vals in sorted(guards.items())],
        "round_list": round_list,
        "missed_points": missed_points,
    }


def event_data(report: dict[str, Any]) -> dict[str, Any]:
    """patrol.report data: the summary, per guard and the missed points (ids only)."""
    return {
        "day": report["day"], "rounds": report["rounds"], "points": report["points"], "scans": report["scans"],
        "guards": report["guards"][:100], "missed_points": report["missed_points"][:200],
    }


def format_table(report: dict[str, Any], guard_names: dict[str, str] | None = None,
                 checkpoint_names: dict[str, str] | None = None) -> str:
    """The report as plain text for a terminal (fixed-width columns)."""
    guard_names = guard_names or {}
    checkpoint_names = checkpoint_names or {}
    r, p = report["rounds"], report["points"]
    lines = [
        f"巡更日报 Patrol report {report['day']} ({report['timezone']})",
        "",
        f"Rounds  planned {r['planned']}  started {r['started']}  completed {r['completed']}  "
        f"abandoned {r['abandoned']}  not started {r['not_started']}  unscheduled {r['unscheduled']}  "
        f"open {r['open']}  upcoming {r['upcoming']}",
        f"Points  visited {p['visited']}  missed {p['missed']}  on time {p['on_time']}  late {p['late']}  "
        f"early {p['early']}  out of order {p['out_of_order']}  repeated taps {p['repeated']}",
    ]
    scans = report["scans"]
    if scans:
        lines.append("Scans   " + "  ".join(f"{k.replace('_', ' ')} {v}" for k, v in scans.items()))
    lines += ["", "Rounds"]
    header = f"{'planned':8}{'started':8}{'route':14}{'kind':8}{'guard':14}{'outcome':13}{'done':>6}{'missed':>7}{'late':>5}{'early':>6}{'order':>6}"
    lines.append(header)
    lines.append("-" * len(header))
    for row in report["round_list"]:
        outcome = row["outcome"] or row["state"]
        lines.append(f"{row['planned'] or '-':8}{row['started'] or '-':8}{row['route_id'][:13]:14}{row['kind']:8}"
                     f"{(row['guard_id'] or '-')[:13]:14}{outcome:13}{row['visited']:>3}/{row['points']:<2}"
                     f"{row['missed']:>7}{row['late']:>5}{row['early']:>6}{row['out_of_order']:>6}")
    if not report["round_list"]:
        lines.append("(no rounds)")
    lines += ["", "Guards"]
    header = f"{'guard':16}{'rounds':>7}{'done':>6}{'abandoned':>10}{'visited':>8}{'missed':>7}{'late':>5}{'early':>6}{'order':>6}  name"
    lines.append(header)
    lines.append("-" * len(header))
    for g in report["guards"]:
        lines.append(f"{g['guard_id'][:15]:16}{g['rounds']:>7}{g['completed']:>6}{g['abandoned']:>10}{g['visited']:>8}"
                     f"{g['missed']:>7}{g['late']:>5}{g['early']:>6}{g['out_of_order']:>6}  "
                     f"{guard_names.get(g['guard_id'], '')}".rstrip())
    if not report["guards"]:
        lines.append("(no guard started a round)")
    if report["missed_points"]:
        lines += ["", "Missed points"]
        for m in report["missed_points"]:
            name = checkpoint_names.get(m["checkpoint_id"], "")
            lines.append(f"  due {m['due'] or '-':6} {m['route_id']:14} point {m['point']:<3} {m['checkpoint_id']} {name}".rstrip())
    return "\n".join(lines)
