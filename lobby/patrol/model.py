"""What the patrol engine works on and returns: rounds and their points, scan/tick/import results."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from mqtt_bridge.clock import Instant

VISITED = ("on_time", "late", "early", "out_of_order")
STATUSES = ("on_time", "late", "early", "out_of_order", "repeated", "too_late", "guard", "unknown_tag", "unknown_guard")
OK_STATUSES = ("on_time", "late", "early", "repeated", "guard")
Source = Literal["kiosk", "gateway", "wand"]


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
class Point:
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
class Round:
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
    points: list[Point] = field(default_factory=list)

    def pending(self) -> list[Point]:
        return [p for p in self.points if p.state == "pending"]

    def count(self, *states: str) -> int:
        return sum(1 for p in self.points if p.state in states)


def as_instant(moment: Any) -> Instant:
    """Accept any clock reading with wall, boot_id, mono_ns and synced (e.g. mqtt_bridge.clock.Instant)."""
    if isinstance(moment, Instant):
        return moment
    return Instant(moment.wall, moment.boot_id, moment.mono_ns, bool(getattr(moment, "synced", True)))


def display(moment: Instant, now: Instant) -> dt.datetime:
    """The wall time a deadline falls on, as the clock now shows it (UTC)."""
    return moment.as_seen_at(now) if moment.boot_id == now.boot_id and moment.boot_id else moment.wall
