"""The patrol engine (巡更): classifies every tap, keeps rounds, raises missed-checkpoint alerts.

State lives in the store (its tables: migration 5 in mqtt_bridge.store.migrations), never in memory: the kiosk process
and the gateway process each build a PatrolEngine on the same file. `scan()` runs in one
transaction that first brings the timers up to date, then reads the round, classifies
the tap and writes the scan, the round and the events. `tick()` (the gateway, every few
seconds) is the only timer; it is safe to call from any process at any rate.

Rules:

Who and where. A tap is a card UID seen by a device (a reader id, or a wand id).
- The UID of a checkpoint tag: that checkpoint; the guard is the one whose card was
  last tapped on the same device within `session_min` (a wand or a reader without a
  checkpoint). No such guard: `unknown_guard`.
- A guard card (config guards, or central's cards.update with role guard) on a reader
  that stands at a checkpoint: that guard at that checkpoint (one tap does both).
- A guard card on a device without a checkpoint: `guard` (the guard is named for the
  tag taps that follow on that device).
- Any other card on a checkpoint reader: `unknown_guard` (the checkpoint is known, the
  person is not; nothing is attributed). Elsewhere: `unknown_tag`.

Which round. A guard's own open round containing the checkpoint (the newest); else a
planned round whose start window is open (from planned - early_start_min to planned +
start_window_min + grace_min) and whose route contains the checkpoint; else a new ad hoc
round when the checkpoint is the first of a route -- except within one window
(`max_gap_min`) after the guard's last visit on a finished round of that route, where
the tap is that round's `repeated` (a habitual last tap at the start point). Otherwise the
tap is `out_of_order` with no round (误点). A guard may have several open rounds.

Windows. Point 1 of a scheduled round is due by planned + start_window_min; every later
point (route order) by the previous point's scan + its window (`windows_min` or
`max_gap_min`), or, if the previous point has no scan, by the previous point's own due
time. Any-order routes: every point is due by the round's start + the sum of the
windows of the other points. Grace (`grace_min`) follows every due time.

Classification of a checkpoint tap inside a round:
- `repeated`: the same checkpoint as the last accepted tap of the round, or a point
  already visited. Counted once; it changes nothing else.
- `too_late`: the point was already missed (its due time + grace had passed).
- `out_of_order` (ordered routes): an earlier point is still pending, or a later one was
  already visited. The point counts as visited, flagged out of order.
- `late`: after the due time, within grace.
- `early`: before the planned start (scheduled round's first tap), or sooner than the
  route's `min_gap_min` after the previous point's scan.
- `on_time`: otherwise.

Missed. When a pending point's due time + grace passes, the timer marks it missed and
raises the alert `patrol.missed:<round_id>:<checkpoint_id>` (warning). A scheduled round
whose start window + grace passes without a tap is closed `not_started` with every point
missed and one alert `patrol.not_started:<round_id>` (warning). A round ends when no
point is pending: `completed` (no point missed) or `abandoned`; `patrol.round` is sent.
Patrol alerts are cleared at the next shift handover ([shifts]) and stay visible until
acknowledged; an import proving the point was visited in time clears it at once.

Time. Deadlines are Instants (wall + boot id + CLOCK_BOOTTIME): compared on the
monotonic clock within a boot, on the wall clock across a reboot or for a wand's own
timestamps. Schedules are wall-clock times of day in site.timezone; a planned round is
written when its early window opens, and from then on its windows are monotonic. If a
forward wall step (wall - monotonic offset changed by more than a minute) is what carried
the clock past a round's opening, its start window runs in full from that moment.

Wand uploads. Rows are processed in the wand's time order with the wand's timestamps as
the tap time (wall clock). A scheduled round the timer had closed as `not_started` is
revived when an upload shows it was started within its window (its alert is cleared, the
round is reported again with `revision` + 1); a point marked missed is revived when the
upload shows it was visited in time. Rounds closed otherwise are final.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mqtt_bridge.alerts import AlertEngine, Severity, alert_key
from lobby.cardhash import card_hash, load_key, normalise_uid
from lobby.config.model import Config, Route
from mqtt_bridge.store import Lane, Store, Transaction
from mqtt_bridge.store.ids import uuid7
from mqtt_bridge.timebase import rfc3339
from mqtt_bridge.clock import Clock, Instant
from lobby.patrol.messages import scan_message
from lobby.patrol.schedule import Occurrence, load_secret, next_handover, occurrences
from lobby.patrol.wand import ParsedFile, WandFileError, parse_file, parse_text

log = logging.getLogger(__name__)

VISITED = ("on_time", "late", "early", "out_of_order")
STATUSES = ("on_time", "late", "early", "out_of_order", "repeated", "too_late", "guard", "unknown_tag", "unknown_guard")
OK_STATUSES = ("on_time", "late", "early", "repeated", "guard")
Source = Literal["kiosk", "gateway", "wand"]
FUTURE_TOLERANCE_S = 300  # a wand row may be this far ahead of the receiving clock
IMPORT_MAX_AGE = dt.timedelta(days=7)
_DEVICE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ScanResult:
    """What a tap was, for the kiosk's confirmation (and the reader's beep)."""

    status: str  # one of STATUSES
    ok: bool  # True: show a confirmation; False: show what was wrong
    message_zh: str
    message_en: str
    scan_id: int
    event_id: str
    checkpoint_id: str | None = None
    checkpoint_name: str | None = None
    guard_id: str | None = None
    round_id: str | None = None
    route_id: str | None = None
    point: int | None = None  # this checkpoint's position n ...
    points: int | None = None  # ... of m on the route
    visited: int | None = None  # points of the round visited so far
    next_checkpoint_id: str | None = None
    next_checkpoint_name: str | None = None
    next_due: dt.datetime | None = None  # site-local wall time the next point is due by
    round_outcome: str | None = None  # set when this tap ended the round

    @property
    def message(self) -> str:
        return f"{self.message_zh}\n{self.message_en}"


@dataclass
class TickResult:
    missed: list[tuple[str, str]] = field(default_factory=list)  # (round_id, checkpoint_id)
    not_started: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)  # plan keys written
    cleared: list[str] = field(default_factory=list)  # alert keys cleared at handover
    report_day: str | None = None


@dataclass
class ImportResult:
    import_id: str | None
    file_sha256: str
    format: str
    rows: int
    accepted: int
    duplicates: int
    rejected: int
    problems: list[tuple[int, str]]  # (line, message), sorted by line
    statuses: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- round state


@dataclass
class _Point:
    pos: int
    checkpoint_id: str
    window_s: float
    state: str = "pending"
    due: Instant | None = None
    visited: Instant | None = None
    scan_id: int | None = None
    repeats: int = 0
    alert_key: str | None = None


@dataclass
class _Round:
    id: str
    route_id: str
    plan_key: str | None
    schedule_kind: str | None
    ordered: bool
    grace_s: float
    min_gap_s: float
    state: str
    site_day: str
    created_ts: str
    outcome: str | None = None
    guard_id: str | None = None
    planned: Instant | None = None
    start_due: Instant | None = None
    earliest: Instant | None = None
    started: Instant | None = None
    start_source: str | None = None
    last_pos: int | None = None
    alert_key: str | None = None
    closed_ts: str | None = None
    revision: int = 0
    points: list[_Point] = field(default_factory=list)

    def pending(self) -> list[_Point]:
        return [p for p in self.points if p.state == "pending"]

    def count(self, *states: str) -> int:
        return sum(1 for p in self.points if p.state in states)


_ROUND_COLS = ("id route_id plan_key schedule_kind ordered grace_s min_gap_s state outcome guard_id site_day "
               "planned_ts planned_boot planned_mono start_due_ts start_due_boot start_due_mono "
               "earliest_ts earliest_boot earliest_mono started_ts started_boot started_mono start_source "
               "last_pos alert_key created_ts closed_ts revision").split()
_POINT_COLS = ("round_id pos checkpoint_id window_s state due_ts due_boot due_mono visited_ts visited_boot "
               "visited_mono scan_id repeats alert_key").split()


def _instant(moment: Any) -> Instant:
    """Accept any clock reading with wall, boot_id, mono_ns and synced (e.g. mqtt_bridge.clock.Instant)."""
    if isinstance(moment, Instant):
        return moment
    return Instant(moment.wall, moment.boot_id, moment.mono_ns, bool(getattr(moment, "synced", True)))


def _cols(moment: Instant | None) -> tuple[Any, Any, Any]:
    return (None, None, None) if moment is None else moment.columns()


# --------------------------------------------------------------------------- the engine


class PatrolEngine:
    """Build one per process: `PatrolEngine(cfg, store, alerts, clock)`.

    `scan()` for every tap (kiosk, gateway readers), `tick()` every few seconds (gateway),
    `import_file()` for wand uploads, `report()` for a day.
    """

    def __init__(self, cfg: Config, store: Store, alerts: AlertEngine | None = None, clock: Clock | None = None,
                 *, card_key: bytes | None = None, secret: bytes | None = None) -> None:
        self.cfg = cfg
        self.patrol = cfg.patrol
        self.store = store
        self.alerts = alerts or AlertEngine(store)
        self.clock = clock or Clock()
        self.card_key = card_key if card_key is not None else load_key(cfg.state_dir)
        self.secret = secret if secret is not None else load_secret(cfg.state_dir)
        self.tz = zoneinfo.ZoneInfo(cfg.site.timezone)
        self.checkpoints = {c.id: c for c in self.patrol.checkpoints}
        self.routes: dict[str, Route] = {r.id: r for r in self.patrol.routes}
        self.cp_by_tag = {c.tag_uid: c.id for c in self.patrol.checkpoints if c.tag_uid}
        self.cp_by_reader = {c.reader: c.id for c in self.patrol.checkpoints if c.reader}
        for reader in cfg.readers:
            if reader.checkpoint:
                self.cp_by_reader.setdefault(reader.id, reader.checkpoint)
        self.reader_host = {r.id: r.host for r in cfg.readers}
        self.guard_by_card = {g.card_uid: g.id for g in self.patrol.guards}
        self._occurrences: dict[dt.date, list[Occurrence]] = {}

    # ================================================================== public API

    def now(self) -> Instant:
        return _instant(self.clock.instant())

    def card_role(self, uid: str) -> Literal["guard", "checkpoint"] | None:
        """Whether a UID is a guard card or a checkpoint tag (for a kiosk deciding where a tap goes)."""
        uid = normalise_uid(uid)
        if uid in self.cp_by_tag:
            return "checkpoint"
        if uid in self.guard_by_card:
            return "guard"
        found = self.store.scalar("SELECT 1 FROM cards WHERE uid_hash = ? AND role = 'guard' AND active = 1",
                                  (card_hash(self.card_key, uid),))
        return "guard" if found else None

    def scan(self, uid: str, reader_id: str, *, source: Source | None = None, at: Instant | None = None) -> ScanResult:
        """Classify one live tap in one transaction and return what to show.

        `reader_id` is the reader's id ([[readers]]) or a wand's id; `source` defaults to
        the reader's host ("kiosk" or "gateway"). Raises StoreError if the store is busy.
        """
        uid = normalise_uid(uid)
        if not _DEVICE_RE.match(reader_id):
            raise ValueError(f"reader id {reader_id!r} is not a valid id")
        now = self.now()
        at = _instant(at) if at is not None else now
        src = source or self.reader_host.get(reader_id, "gateway")
        if src not in ("kiosk", "gateway", "wand"):
            raise ValueError(f"source must be kiosk, gateway or wand, not {src!r}")
        with self.store.transaction() as tx:
            self._advance(tx, now)
            result = self._scan(tx, uid, reader_id, src, at, now)
        log.info("patrol scan on %s: %s%s", reader_id, result.status,
                 f" at {result.checkpoint_id}" if result.checkpoint_id else "")
        return result

    def on_tag(self, event: Any) -> ScanResult | None:
        """A reader callback: pass drivers.nfc.TagEvent taps to scan() ('removed' is ignored)."""
        if getattr(event, "kind", None) != "tap":
            return None
        return self.scan(event.uid, event.reader_id)

    def tick(self, now: Instant | None = None) -> TickResult:
        """Bring every timer up to `now`: plan rounds, expire windows, clear old alerts, daily report.

        Call every few seconds (5 s is plenty: deadlines are minutes). Idempotent.
        """
        now = _instant(now) if now is not None else self.now()
        result = TickResult()
        with self.store.transaction() as tx:
            self._advance(tx, now, result)
            result.report_day = self._daily_report(tx, now)
        for round_id, cp in result.missed:
            log.warning("patrol: checkpoint %s missed on round %s", cp, round_id)
        for round_id in result.not_started:
            log.warning("patrol: scheduled round %s was not started", round_id)
        return result

    def import_file(self, path: str | Path, wand_id: str | None = None) -> ImportResult:
        """Import a wand upload (CSV or JSON, see lobby.patrol.wand). Raises WandFileError if unreadable."""
        parsed, raw = parse_file(path, self.tz, wand_id)
        return self._import(parsed, hashlib.sha256(raw).hexdigest(), Path(path).name)

    def import_text(self, text: str, name: str = "upload", wand_id: str | None = None,
                    fmt: str | None = None) -> ImportResult:
        parsed = parse_text(text, self.tz, wand_id, fmt)
        return self._import(parsed, hashlib.sha256(text.encode()).hexdigest(), name)

    def report(self, day: dt.date, now: Instant | None = None) -> dict[str, Any]:
        from lobby.patrol.report import build_report

        return build_report(self, day, _instant(now) if now is not None else self.now())

    def checkpoint_name(self, checkpoint_id: str | None) -> str | None:
        if checkpoint_id is None:
            return None
        cp = self.checkpoints.get(checkpoint_id)
        return cp.name if cp else checkpoint_id

    def site_day(self, moment: Instant | dt.datetime) -> str:
        wall = moment.wall if isinstance(moment, Instant) else moment
        return wall.astimezone(self.tz).date().isoformat()

    def occurrences(self, day: dt.date) -> list[Occurrence]:
        """The rounds the schedules plan for schedule day `day` (cached: a pure function of config and day)."""
        if day not in self._occurrences:
            if len(self._occurrences) > 8:
                self._occurrences.clear()
            self._occurrences[day] = occurrences(self.patrol, self.tz, day, self.secret, self.cfg.site.site_id)
        return self._occurrences[day]

    # ================================================================== timers

    def _advance(self, tx: Transaction, now: Instant, result: TickResult | None = None) -> None:
        result = result if result is not None else TickResult()
        self._since(tx, now)
        self._plan(tx, now, result)
        for (round_id,) in tx.execute("SELECT id FROM patrol_rounds WHERE state IN ('planned', 'open') "
                                      "ORDER BY created_ts, id").fetchall():
            r = self._load(tx, round_id)
            self._expire(tx, r, now, now, result)
        self._clear_due_alerts(tx, now, result)

    def _since(self, tx: Transaction, now: Instant) -> dt.datetime:
        row = tx.execute("SELECT value FROM meta WHERE key = 'patrol.since'").fetchone()
        if row is None:
            # first run: rounds whose start window may still be open are planned, older ones are not
            since = now.wall - dt.timedelta(minutes=self.patrol.start_window_min + self.patrol.grace_min)
            tx.execute("INSERT INTO meta (key, value) VALUES ('patrol.since', ?)", (rfc3339(since),))
            return since
        return dt.datetime.fromisoformat(row[0].replace("Z", "+00:00"))

    def _wall_step(self, tx: Transaction, now: Instant) -> float:
        """Seconds the wall clock has stepped (against the monotonic clock) since the engine last looked, this boot.

        The offset wall - monotonic is constant while the clock only ticks (NTP slews are tiny);
        it is written to meta only when it changes by more than a second, so ticks do not write.
        """
        offset = now.wall.timestamp() - now.mono_ns / 1e9
        row = tx.execute("SELECT value FROM meta WHERE key = 'patrol.clock'").fetchone()
        boot, previous = (row[0].split(" ", 1) if row else ("", "0"))
        if boot == now.boot_id and abs(offset - float(previous)) <= 1.0:
            return 0.0
        tx.execute("INSERT INTO meta (key, value) VALUES ('patrol.clock', ?) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (f"{now.boot_id} {offset:.3f}",))
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
        since = self._since(tx, now)
        early = dt.timedelta(minutes=self.patrol.early_start_min)
        today = now.wall.astimezone(self.tz).date()
        unstepped = now.wall - dt.timedelta(seconds=max(step, 0.0))  # where the wall would be without the step
        for day in (today - dt.timedelta(days=1), today):
            for occ in self.occurrences(day):
                if occ.planned < since or occ.planned - early > now.wall or occ.route_id not in self.routes:
                    continue
                if tx.execute("SELECT 1 FROM patrol_rounds WHERE plan_key = ?", (occ.key,)).fetchone():
                    continue
                self._create_planned(tx, occ, now, opened_by_step=step > 60 and occ.planned - early > unstepped)
                result.planned.append(occ.key)

    def _create_planned(self, tx: Transaction, occ: Occurrence, now: Instant, opened_by_step: bool = False) -> _Round:
        route = self.routes[occ.route_id]
        # anchor the wall-clock plan on this boot's monotonic clock from now on
        ahead = (occ.planned - now.wall).total_seconds()
        if opened_by_step:
            ahead = max(ahead, 0.0)  # its start window runs in full from the moment the step opened it
        planned = Instant(occ.planned, now.boot_id, now.plus(ahead).mono_ns, now.synced)
        r = self._new_round(route, now, planned_kind=occ.kind, plan_key=occ.key, site_day=self.site_day(occ.planned))
        r.state = "planned"
        r.planned = planned
        r.start_due = planned.plus(self.patrol.start_window_min * 60)
        r.earliest = planned.plus(-self.patrol.early_start_min * 60)
        self._save(tx, r, new=True)
        return r

    def _new_round(self, route: Route, now: Instant, *, planned_kind: str | None, plan_key: str | None,
                   site_day: str) -> _Round:
        r = _Round(id=uuid7(), route_id=route.id, plan_key=plan_key, schedule_kind=planned_kind,
                   ordered=route.ordered, grace_s=self.patrol.grace_min * 60, min_gap_s=route.min_gap_min * 60,
                   state="open", site_day=site_day, created_ts=now.ts)
        r.points = [_Point(pos, cp, route.window_min(cp) * 60) for pos, cp in enumerate(route.checkpoints, start=1)]
        return r

    def _expire(self, tx: Transaction, r: _Round, t: Instant, now: Instant, result: TickResult) -> None:
        """Settle what has expired by `t`: a planned round not started, pending points missed."""
        grace = r.grace_s
        if r.state == "planned":
            assert r.start_due is not None
            if t.after(r.start_due.plus(grace)):
                for p in r.points:
                    p.state = "missed"
                r.alert_key = alert_key("patrol.not_started", r.id)
                self._raise(tx, r, r.alert_key, "巡更未开始 Patrol round not started: "
                            + self._route_name(r.route_id), {
                                "round_id": r.id, "route_id": r.route_id, "plan_key": r.plan_key,
                                "planned": r.planned.ts if r.planned else None,
                                "start_due": r.start_due.ts}, now)
                result.not_started.append(r.id)
                self._close(tx, r, "not_started", now)
                result.closed.append(r.id)
            return
        if r.state != "open":
            return
        changed = False
        for p in r.points:
            if p.state == "pending" and p.due is not None and t.after(p.due.plus(grace)):
                p.state = "missed"
                p.alert_key = self._missed_key(r, p)
                self._raise(tx, r, p.alert_key, "巡更漏检 Patrol checkpoint missed: "
                            + (self.checkpoint_name(p.checkpoint_id) or p.checkpoint_id), {
                                "round_id": r.id, "route_id": r.route_id, "checkpoint_id": p.checkpoint_id,
                                "point": p.pos, "points": len(r.points), "guard_id": r.guard_id,
                                "due": rfc3339(self._display(p.due, now))},
                            now)
                result.missed.append((r.id, p.checkpoint_id))
                changed = True
        if not r.pending():
            self._close(tx, r, "abandoned" if r.count("missed") else "completed", now)
            result.closed.append(r.id)
        elif changed:
            self._save(tx, r)

    def _missed_key(self, r: _Round, p: _Point) -> str:
        same = [q for q in r.points if q.checkpoint_id == p.checkpoint_id]
        parts = [r.id, p.checkpoint_id] + ([str(p.pos)] if len(same) > 1 else [])
        return alert_key("patrol.missed", *parts)

    def _raise(self, tx: Transaction, r: _Round, key: str, title: str, detail: dict[str, Any], now: Instant) -> None:
        self.alerts.raise_alert(key, Severity.WARNING, title, {k: v for k, v in detail.items() if v is not None}, tx=tx)
        handover = next_handover(self.cfg.shifts, self.tz, now.wall)
        clear = now.plus((handover - now.wall).total_seconds())
        tx.execute("INSERT INTO patrol_alerts (key, round_id, clear_ts, clear_boot, clear_mono, state) "
                   "VALUES (?, ?, ?, ?, ?, 'active') ON CONFLICT(key) DO UPDATE SET clear_ts = excluded.clear_ts, "
                   "clear_boot = excluded.clear_boot, clear_mono = excluded.clear_mono, state = 'active'",
                   (key, r.id, *clear.columns()))

    def _clear_alert(self, tx: Transaction, key: str | None) -> None:
        if key is None:
            return
        self.alerts.clear(key, tx=tx)
        tx.execute("UPDATE patrol_alerts SET state = 'cleared' WHERE key = ?", (key,))

    def _clear_due_alerts(self, tx: Transaction, now: Instant, result: TickResult) -> None:
        rows = tx.execute("SELECT key, clear_ts, clear_boot, clear_mono FROM patrol_alerts WHERE state = 'active'").fetchall()
        for key, *cols in rows:
            due = Instant.from_columns(*cols)
            assert due is not None
            if not due.after(now):
                self._clear_alert(tx, key)
                result.cleared.append(key)

    def _close(self, tx: Transaction, r: _Round, outcome: str, now: Instant) -> None:
        r.state, r.outcome, r.closed_ts = "closed", outcome, now.ts
        r.revision += 1
        self._save(tx, r)
        self._emit(tx, now, "patrol.round", self._round_data(r, now))

    def _daily_report(self, tx: Transaction, now: Instant) -> str | None:
        """Publish patrol.report for yesterday once the local time passes patrol.report_at."""
        if not (self.patrol.routes and (self.patrol.schedules or self.patrol.guards)):
            return None
        local = now.wall.astimezone(self.tz)
        if local.time() < self.patrol.report_at:
            return None
        day = local.date() - dt.timedelta(days=1)
        last = tx.execute("SELECT value FROM meta WHERE key = 'patrol.report_day'").fetchone()
        if last is not None and last[0] >= day.isoformat():
            return None
        since = self._since(tx, now)
        if since.astimezone(self.tz).date() > day:
            return None  # installed after that day
        from lobby.patrol.report import build_report, event_data

        report = build_report(self, day, now, conn=tx.conn)
        self._emit(tx, now, "patrol.report", event_data(report))
        tx.execute("INSERT INTO meta (key, value) VALUES ('patrol.report_day', ?) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (day.isoformat(),))
        return day.isoformat()

    # ================================================================== scans

    def _guard_of_card(self, tx: Transaction, uid: str, uid_hash: str) -> str | None:
        if uid in self.guard_by_card:
            return self.guard_by_card[uid]
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
        if at.after(last.plus(self.patrol.session_min * 60)):
            return None
        return str(row[0])

    def _touch_session(self, tx: Transaction, device: str, guard: str, at: Instant) -> None:
        tx.execute("INSERT INTO patrol_sessions (device_id, guard_id, last_ts, last_boot, last_mono) VALUES (?, ?, ?, ?, ?) "
                   "ON CONFLICT(device_id) DO UPDATE SET guard_id = excluded.guard_id, last_ts = excluded.last_ts, "
                   "last_boot = excluded.last_boot, last_mono = excluded.last_mono", (device, guard, *at.columns()))

    def _scan(self, tx: Transaction, uid: str, device: str, source: str, at: Instant, now: Instant,
              import_id: str | None = None, dedupe_key: str | None = None) -> ScanResult:
        uid_hash = card_hash(self.card_key, uid)
        reader_cp = self.cp_by_reader.get(device)
        checkpoint: str | None = None
        guard: str | None = None
        if uid in self.cp_by_tag:
            checkpoint = self.cp_by_tag[uid]
            if reader_cp is None:
                guard = self._session_guard(tx, device, at)
                if guard is not None:
                    self._touch_session(tx, device, guard, at)
        else:
            guard = self._guard_of_card(tx, uid, uid_hash)
            if guard is not None and reader_cp is None:
                self._touch_session(tx, device, guard, at)
                return self._record(tx, "guard", None, guard, None, None, source, device, uid_hash, at, now,
                                    import_id, dedupe_key)
            checkpoint = reader_cp
        if checkpoint is None:
            return self._record(tx, "unknown_tag", None, None, None, None, source, device, uid_hash, at, now,
                                import_id, dedupe_key)
        if guard is None:
            return self._record(tx, "unknown_guard", checkpoint, None, None, None, source, device, uid_hash, at, now,
                                import_id, dedupe_key)

        r = self._route_to_round(tx, guard, checkpoint, at, now, source)
        if r is None:
            starts = [rt.checkpoints[0] for rt in self.routes.values() if checkpoint in rt.checkpoints]
            return self._record(tx, "out_of_order", checkpoint, guard, None, None, source, device, uid_hash, at, now,
                                import_id, dedupe_key, start_name=self.checkpoint_name(starts[0]) if starts else None)
        status, point, expected = self._classify(tx, r, checkpoint, at, now)
        result = self._record(tx, status, checkpoint, guard, r, point, source, device, uid_hash, at, now,
                              import_id, dedupe_key, expected_name=self.checkpoint_name(expected))
        return result

    def _route_to_round(self, tx: Transaction, guard: str, checkpoint: str, at: Instant, now: Instant,
                        source: str) -> _Round | None:
        # 1. the guard's own open round (newest first) that contains the checkpoint
        for (round_id,) in tx.execute("SELECT id FROM patrol_rounds WHERE state = 'open' AND guard_id = ? "
                                      "ORDER BY started_ts DESC, id DESC", (guard,)).fetchall():
            r = self._load(tx, round_id)
            if r.started is not None and r.started.after(at):
                continue  # an import of taps made before this round began
            self._expire(tx, r, at, now, TickResult())
            if r.state == "open" and any(p.checkpoint_id == checkpoint for p in r.points):
                return r
        # 2. a planned round whose start window is open (an import may revive one the timer gave up on)
        candidates = []
        day_before = (at.wall.astimezone(self.tz).date() - dt.timedelta(days=1)).isoformat()
        for (round_id,) in tx.execute(
                "SELECT id FROM patrol_rounds WHERE (state = 'planned' OR (outcome = 'not_started' AND ? = 'wand')) "
                "AND site_day >= ? ORDER BY planned_ts, id", (source, day_before)).fetchall():
            r = self._load(tx, round_id)
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
                self._revive(tx, r)
            self._start(r, guard, at, source)
            return r
        # 3. an ad hoc round at a route's first checkpoint -- unless the guard just finished a round of
        #    that route there (a habitual last tap at the start point is a repeat, not a new round)
        for route in self.routes.values():
            if route.checkpoints[0] == checkpoint:
                finished = self._just_finished(tx, guard, route, checkpoint, at)
                if finished is not None:
                    return finished
                r = self._new_round(route, now, planned_kind=None, plan_key=None, site_day=self.site_day(at))
                self._start(r, guard, at, source)
                self._save(tx, r, new=True)
                return r
        return None

    def _just_finished(self, tx: Transaction, guard: str, route: Route, checkpoint: str, at: Instant) -> _Round | None:
        row = tx.execute("SELECT id FROM patrol_rounds WHERE guard_id = ? AND route_id = ? AND state = 'closed' "
                         "AND started_ts IS NOT NULL ORDER BY closed_ts DESC LIMIT 1", (guard, route.id)).fetchone()
        if row is None:
            return None
        r = self._load(tx, row[0])
        visits = [p.visited for p in r.points if p.visited is not None]
        if not any(p.checkpoint_id == checkpoint and p.state in VISITED for p in r.points) or not visits:
            return None
        last = max(visits, key=lambda v: v.wall)
        if at.after(last.plus(route.max_gap_min * 60)) or last.after(at):
            return None
        return r

    def _revive(self, tx: Transaction, r: _Round) -> None:
        """A wand upload shows a round the timer had given up on was started in time."""
        self._clear_alert(tx, r.alert_key)
        r.state, r.outcome, r.closed_ts, r.alert_key = "planned", None, None, None
        for p in r.points:
            p.state, p.due, p.visited, p.scan_id, p.alert_key = "pending", None, None, None, None

    def _start(self, r: _Round, guard: str, at: Instant, source: str) -> None:
        r.state, r.guard_id, r.started, r.start_source = "open", guard, at, source
        self._recompute(r)

    def _recompute(self, r: _Round) -> None:
        """Due times of the pending points (see the module docstring)."""
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
        previous: _Point | None = None
        for p in r.points:
            if p.state == "pending":
                if previous is None:
                    p.due = r.start_due if r.start_due is not None else r.started
                else:
                    base = previous.visited if previous.state in VISITED else previous.due
                    p.due = base.plus(p.window_s) if base is not None else None
            previous = p

    def _classify(self, tx: Transaction, r: _Round, checkpoint: str, at: Instant,
                  now: Instant) -> tuple[str, _Point, str | None]:
        """(status, point, checkpoint expected instead) for a tap of `checkpoint` in round `r`; updates `r`."""
        first_tap = r.last_pos is None
        last = r.points[r.last_pos - 1] if r.last_pos else None
        same = [p for p in r.points if p.checkpoint_id == checkpoint]
        if last is not None and last.checkpoint_id == checkpoint:
            last.repeats += 1
            self._save(tx, r)
            return "repeated", last, None
        point = next((p for p in same if p.state == "pending"), None)
        if point is None:
            missed = next((p for p in same if p.state == "missed"), None)
            if missed is not None and missed.due is not None and not at.after(missed.due.plus(r.grace_s)):
                # an upload proves it was visited in time: the alert raised meanwhile is cleared
                self._clear_alert(tx, missed.alert_key)
                missed.state, missed.alert_key = "pending", None
                point = missed
            elif missed is not None:
                missed.repeats += 1
                self._save(tx, r)
                return "too_late", missed, None
            else:
                visited = next(p for p in same if p.state in VISITED)
                visited.repeats += 1
                self._save(tx, r)
                return "repeated", visited, None
        expected: str | None = None
        grace = r.grace_s
        status = "on_time"
        if r.ordered and (any(p.state == "pending" for p in r.points if p.pos < point.pos)
                          or any(p.state in VISITED for p in r.points if p.pos > point.pos)):
            status = "out_of_order"
            earlier = next((p for p in r.points if p.pos < point.pos and p.state == "pending"), None)
            expected = earlier.checkpoint_id if earlier else None
        elif point.due is not None and at.after(point.due):
            status = "late" if not at.after(point.due.plus(grace)) else "too_late"
        elif first_tap and r.planned is not None and r.planned.after(at):
            status = "early"
        elif r.min_gap_s and not first_tap:
            previous = self._previous_visit(r, point)
            if previous is not None and previous.visited is not None and at.seconds_since(previous.visited) < r.min_gap_s:
                status = "early"
        if status == "too_late":  # only when a scan arrives before the timer caught up with it
            self._expire(tx, r, at, now, TickResult())
            return status, point, None
        point.state, point.visited, point.repeats = status, at, 0
        r.last_pos = point.pos
        self._recompute(r)
        self._save(tx, r)
        return status, point, expected

    @staticmethod
    def _previous_visit(r: _Round, point: _Point) -> _Point | None:
        if r.ordered:
            before = [p for p in r.points if p.pos < point.pos]
            return before[-1] if before and before[-1].state in VISITED else None
        visits = [p for p in r.points if p.state in VISITED and p.visited is not None]
        return max(visits, key=lambda p: (p.visited.wall, p.visited.mono_ns)) if visits else None  # type: ignore[union-attr]

    def _record(self, tx: Transaction, status: str, checkpoint: str | None, guard: str | None, r: _Round | None,
                point: _Point | None, source: str, device: str, uid_hash: str, at: Instant, now: Instant,
                import_id: str | None, dedupe_key: str | None, *, expected_name: str | None = None,
                start_name: str | None = None) -> ScanResult:
        cursor = tx.execute(
            "INSERT INTO patrol_scans (status, source, device_id, uid_hash, checkpoint_id, guard_id, round_id, pos, "
            "scanned_ts, scanned_boot, scanned_mono, received_ts, clock_synced, site_day, import_id, dedupe_key) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (status, source, device, uid_hash, checkpoint, guard, r.id if r else None, point.pos if point else None,
             *at.columns(), now.ts, int(at.synced), self.site_day(at), import_id, dedupe_key))
        scan_id = int(cursor.lastrowid or 0)
        if point is not None and status in VISITED and r is not None:
            point.scan_id = scan_id
            tx.execute("UPDATE patrol_points SET scan_id = ? WHERE round_id = ? AND pos = ?", (scan_id, r.id, point.pos))
        nxt = self._next_point(r) if r is not None and r.state == "open" else None
        completed = r is not None and not r.pending() and status in VISITED
        data: dict[str, Any] = {
            "scan_id": scan_id, "status": status, "checkpoint_id": checkpoint, "guard_id": guard,
            "round_id": r.id if r else None, "route_id": r.route_id if r else None,
            "point": point.pos if point else None, "points": len(r.points) if r else None,
            "visited": r.count(*VISITED) if r else None,
            "source": source, "device_id": device, "scanned_ts": at.ts, "received_ts": now.ts,
            "due_ts": rfc3339(self._display(point.due, now)) if point is not None and point.due is not None else None,
        }
        if import_id:
            data["import_id"] = import_id
        record = self._emit(tx, now, "patrol.scan", data)
        tx.execute("UPDATE patrol_scans SET event_id = ? WHERE id = ?", (record.id, scan_id))
        if completed and r is not None:
            self._close(tx, r, "abandoned" if r.count("missed") else "completed", now)
        next_due = self._display(nxt.due, now).astimezone(self.tz) if nxt is not None and nxt.due is not None else None
        zh, en = scan_message(status, checkpoint=self.checkpoint_name(checkpoint), point=point.pos if point else None,
                              points=len(r.points) if r else None,
                              next_name=self.checkpoint_name(nxt.checkpoint_id) if nxt else None, next_due=next_due,
                              completed=completed, expected_name=expected_name, start_name=start_name)
        return ScanResult(
            status=status, ok=status in OK_STATUSES, message_zh=zh, message_en=en, scan_id=scan_id, event_id=record.id,
            checkpoint_id=checkpoint, checkpoint_name=self.checkpoint_name(checkpoint), guard_id=guard,
            round_id=r.id if r else None, route_id=r.route_id if r else None, point=point.pos if point else None,
            points=len(r.points) if r else None, visited=r.count(*VISITED) if r else None,
            next_checkpoint_id=nxt.checkpoint_id if nxt else None,
            next_checkpoint_name=self.checkpoint_name(nxt.checkpoint_id) if nxt else None, next_due=next_due,
            round_outcome=r.outcome if completed and r is not None else None)

    @staticmethod
    def _next_point(r: _Round) -> _Point | None:
        pending = r.pending()
        if not pending:
            return None
        return min(pending, key=lambda p: ((p.due.wall if p.due else dt.datetime.max.replace(tzinfo=dt.timezone.utc)),
                                           p.pos)) if not r.ordered else pending[0]

    @staticmethod
    def _display(moment: Instant, now: Instant) -> dt.datetime:
        """The wall time a deadline falls on, as the clock now shows it (UTC)."""
        return moment.as_seen_at(now) if moment.boot_id == now.boot_id and moment.boot_id else moment.wall

    # ================================================================== imports

    def _import(self, parsed: ParsedFile, sha: str, name: str) -> ImportResult:
        now = self.now()
        problems = list(parsed.problems)
        statuses: dict[str, int] = {}
        accepted = duplicates = 0
        rows = sorted(parsed.rows, key=lambda row: (row.time, row.line))
        import_id = uuid7()
        with self.store.transaction() as tx:
            for row in rows:
                if (row.time - now.wall).total_seconds() > FUTURE_TOLERANCE_S:
                    problems.append((row.line, f"time {rfc3339(row.time)} is in the future; check the wand's clock"))
                    continue
                if now.wall - row.time > IMPORT_MAX_AGE:
                    problems.append((row.line, f"time {rfc3339(row.time)} is more than 7 days old"))
                    continue
                uid_hash = card_hash(self.card_key, row.uid)
                key = f"{row.wand}|{rfc3339(row.time)}|{uid_hash}"
                if tx.execute("SELECT 1 FROM patrol_scans WHERE dedupe_key = ?", (key,)).fetchone():
                    duplicates += 1
                    continue
                at = Instant.wall_only(row.time, synced=False)
                result = self._scan(tx, row.uid, row.wand, "wand", at, now, import_id, key)
                statuses[result.status] = statuses.get(result.status, 0) + 1
                accepted += 1
            self._advance(tx, now)
            problems.sort()
            rejected = len(problems)
            tx.execute("INSERT INTO patrol_imports (id, file_name, file_sha256, format, received_ts, rows, accepted, "
                       "duplicates, rejected, problems) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (import_id, name[:200], sha, parsed.format, now.ts, parsed.total, accepted, duplicates, rejected,
                        json.dumps(problems, ensure_ascii=False)))
            self._emit(tx, now, "patrol.import", {
                "import_id": import_id, "file_sha256": sha, "format": parsed.format, "rows": parsed.total,
                "accepted": accepted, "duplicates": duplicates, "rejected": rejected,
                "wands": sorted({row.wand for row in parsed.rows})[:50],
                "problems": [{"line": line, "error": msg[:300]} for line, msg in problems[:50]],
            })
        log.info("patrol import %s: %d rows, %d accepted, %d duplicates, %d rejected",
                 import_id, parsed.total, accepted, duplicates, rejected)
        return ImportResult(import_id, sha, parsed.format, parsed.total, accepted, duplicates, rejected, problems, statuses)

    # ================================================================== persistence

    def _load(self, tx: Transaction, round_id: str) -> _Round:
        row = tx.execute(f"SELECT {', '.join(_ROUND_COLS)} FROM patrol_rounds WHERE id = ?", (round_id,)).fetchone()
        v = dict(zip(_ROUND_COLS, row))
        r = _Round(id=v["id"], route_id=v["route_id"], plan_key=v["plan_key"], schedule_kind=v["schedule_kind"],
                   ordered=bool(v["ordered"]), grace_s=v["grace_s"], min_gap_s=v["min_gap_s"], state=v["state"],
                   site_day=v["site_day"], created_ts=v["created_ts"], outcome=v["outcome"], guard_id=v["guard_id"],
                   planned=Instant.from_columns(v["planned_ts"], v["planned_boot"], v["planned_mono"]),
                   start_due=Instant.from_columns(v["start_due_ts"], v["start_due_boot"], v["start_due_mono"]),
                   earliest=Instant.from_columns(v["earliest_ts"], v["earliest_boot"], v["earliest_mono"]),
                   started=Instant.from_columns(v["started_ts"], v["started_boot"], v["started_mono"]),
                   start_source=v["start_source"], last_pos=v["last_pos"], alert_key=v["alert_key"],
                   closed_ts=v["closed_ts"], revision=v["revision"])
        for prow in tx.execute(f"SELECT {', '.join(_POINT_COLS)} FROM patrol_points WHERE round_id = ? ORDER BY pos",
                               (round_id,)).fetchall():
            p = dict(zip(_POINT_COLS, prow))
            r.points.append(_Point(pos=p["pos"], checkpoint_id=p["checkpoint_id"], window_s=p["window_s"],
                                   state=p["state"], due=Instant.from_columns(p["due_ts"], p["due_boot"], p["due_mono"]),
                                   visited=Instant.from_columns(p["visited_ts"], p["visited_boot"], p["visited_mono"]),
                                   scan_id=p["scan_id"], repeats=p["repeats"], alert_key=p["alert_key"]))
        return r

    def _save(self, tx: Transaction, r: _Round, new: bool = False) -> None:
        values = (r.id, r.route_id, r.plan_key, r.schedule_kind, int(r.ordered), r.grace_s, r.min_gap_s, r.state,
                  r.outcome, r.guard_id, r.site_day, *_cols(r.planned), *_cols(r.start_due), *_cols(r.earliest),
                  *_cols(r.started), r.start_source, r.last_pos, r.alert_key, r.created_ts, r.closed_ts, r.revision)
        marks = ", ".join("?" * len(_ROUND_COLS))
        updates = ", ".join(f"{c} = excluded.{c}" for c in _ROUND_COLS[1:])
        tx.execute(f"INSERT INTO patrol_rounds ({', '.join(_ROUND_COLS)}) VALUES ({marks}) "
                   f"ON CONFLICT(id) DO UPDATE SET {updates}", values)
        if not new:
            tx.execute("DELETE FROM patrol_points WHERE round_id = ?", (r.id,))
        marks = ", ".join("?" * len(_POINT_COLS))
        tx.conn.executemany(
            f"INSERT INTO patrol_points ({', '.join(_POINT_COLS)}) VALUES ({marks})",
            [(r.id, p.pos, p.checkpoint_id, p.window_s, p.state, *_cols(p.due), *_cols(p.visited), p.scan_id,
              p.repeats, p.alert_key) for p in r.points])

    # ================================================================== events

    def _emit(self, tx: Transaction, now: Instant, type_: str, data: dict[str, Any]):  # noqa: ANN202
        # The envelope is stamped by the store like every other event (this machine's clock and boot,
        # which the bridge uses to tell live from backlog); the engine's own times are in `data`.
        return tx.emit("patrol", type_, data, Lane.CRITICAL)

    def _route_name(self, route_id: str) -> str:
        route = self.routes.get(route_id)
        return route.name if route else route_id

    def _round_data(self, r: _Round, now: Instant) -> dict[str, Any]:
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


__all__ = ["ImportResult", "PatrolEngine", "ScanResult", "TickResult", "WandFileError"]
