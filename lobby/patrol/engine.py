"""The patrol engine (巡更): classifies every tap, keeps rounds, raises missed-checkpoint alerts.

State lives in the store (its tables: migration 5 in mqtt_bridge.store.migrations), never in
memory: the kiosk process and the gateway process each build a PatrolEngine on the same file. `scan()` runs in one
transaction that first brings the timers up to date, then reads the round, classifies
the tap and writes the scan, the round and the events. `tick()` (the gateway, every few
seconds) is the only timer; it is safe to call from any process at any rate.

The parts: rules.py (windows and the classification of a tap, pure), planner.py (the
timers: plan, expire, close, alerts, the daily report), scanner.py (one tap: who, which
round, the record), wand_import.py (uploads), state.py (rounds in the store), report.py.
This module is the facade the kiosk, the gateway and the CLI use.

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
import logging
import re
from pathlib import Path
from typing import Any, Literal

from lobby.cardhash import card_hash, normalise_uid
from lobby.config.model import Config
from lobby.patrol.context import PatrolContext
from lobby.patrol.model import ImportResult, ScanResult, Source, TickResult, as_instant
from lobby.patrol.planner import Planner
from lobby.patrol.scanner import Scanner
from lobby.patrol.schedule import Occurrence
from lobby.patrol.wand import WandFileError, parse_file, parse_text
from lobby.patrol.wand_import import import_parsed
from mqtt_bridge.alerts import AlertEngine
from mqtt_bridge.clock import Clock, Instant
from mqtt_bridge.store import Store

log = logging.getLogger(__name__)

_DEVICE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?\Z")


class PatrolEngine:
    """Build one per process: `PatrolEngine(cfg, store, alerts, clock)`.

    `scan()` for every tap (kiosk, gateway readers), `tick()` every few seconds (gateway),
    `import_file()` for wand uploads, `report()` for a day.
    """

    def __init__(self, cfg: Config, store: Store, alerts: AlertEngine | None = None, clock: Clock | None = None,
                 *, card_key: bytes | None = None, secret: bytes | None = None) -> None:
        self.ctx = PatrolContext.build(cfg, store, alerts, clock, card_key, secret)
        self.planner = Planner(self.ctx)
        self.scanner = Scanner(self.ctx, self.planner)

    # ------------------------------------------------------------------ what callers read

    @property
    def cfg(self) -> Config:
        return self.ctx.cfg

    @property
    def store(self) -> Store:
        return self.ctx.store

    @property
    def tz(self) -> Any:
        return self.ctx.tz

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.ctx.clock = clock

    def now(self) -> Instant:
        return self.ctx.now()

    def checkpoint_name(self, checkpoint_id: str | None) -> str | None:
        return self.ctx.checkpoint_name(checkpoint_id)

    def site_day(self, moment: Instant | dt.datetime) -> str:
        return self.ctx.site_day(moment)

    def occurrences(self, day: dt.date) -> list[Occurrence]:
        return self.ctx.occurrences(day)

    def card_role(self, uid: str) -> Literal["guard", "checkpoint"] | None:
        """Whether a UID is a guard card or a checkpoint tag (for a kiosk deciding where a tap goes)."""
        uid = normalise_uid(uid)
        if uid in self.ctx.cp_by_tag:
            return "checkpoint"
        if uid in self.ctx.guard_by_card:
            return "guard"
        found = self.store.scalar("SELECT 1 FROM cards WHERE uid_hash = ? AND role = 'guard' AND active = 1",
                                  (card_hash(self.ctx.card_key, uid),))
        return "guard" if found else None

    # ------------------------------------------------------------------ what callers do

    def scan(self, uid: str, reader_id: str, *, source: Source | None = None, at: Instant | None = None) -> ScanResult:
        """Classify one live tap in one transaction and return what to show.

        `reader_id` is the reader's id ([[readers]]) or a wand's id; `source` defaults to
        the reader's host ("kiosk" or "gateway"). Raises StoreError if the store is busy.
        """
        uid = normalise_uid(uid)
        if not _DEVICE_RE.match(reader_id):
            raise ValueError(f"reader id {reader_id!r} is not a valid id")
        now = self.now()
        at = as_instant(at) if at is not None else now
        src = source or self.ctx.reader_host.get(reader_id, "gateway")
        if src not in ("kiosk", "gateway", "wand"):
            raise ValueError(f"source must be kiosk, gateway or wand, not {src!r}")
        with self.store.transaction() as tx:
            self.planner.advance(tx, now)
            result = self.scanner.scan(tx, uid, reader_id, src, at, now)
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
        now = as_instant(now) if now is not None else self.now()
        result = TickResult()
        with self.store.transaction() as tx:
            self.planner.advance(tx, now, result)
            result.report_day = self.planner.daily_report(tx, now)
        for round_id, cp in result.missed:
            log.warning("patrol: checkpoint %s missed on round %s", cp, round_id)
        for round_id in result.not_started:
            log.warning("patrol: scheduled round %s was not started", round_id)
        return result

    def import_file(self, path: str | Path, wand_id: str | None = None) -> ImportResult:
        """Import a wand upload (CSV or JSON, see lobby.patrol.wand). Raises WandFileError if unreadable."""
        parsed, raw = parse_file(path, self.tz, wand_id)
        return import_parsed(self.ctx, self.planner, self.scanner, parsed, hashlib.sha256(raw).hexdigest(),
                             Path(path).name)

    def import_text(self, text: str, name: str = "upload", wand_id: str | None = None,
                    fmt: str | None = None) -> ImportResult:
        parsed = parse_text(text, self.tz, wand_id, fmt)
        return import_parsed(self.ctx, self.planner, self.scanner, parsed, hashlib.sha256(text.encode()).hexdigest(),
                             name)

    def report(self, day: dt.date, now: Instant | None = None) -> dict[str, Any]:
        from lobby.patrol.report import build_report

        return build_report(self.store.connection(), day, as_instant(now) if now is not None else self.now(),
                            tz=self.tz, occurrences=self.occurrences)


__all__ = ["ImportResult", "PatrolEngine", "ScanResult", "TickResult", "WandFileError"]
