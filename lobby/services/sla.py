"""SLA clocks: the promises made to a tenant, when each is due, and how a late clock sync is repaired.

Which clocks a ticket gets (numbers from [service], DOMAIN defaults):
- complaint: first reply within complaint_reply_h (2 h) of filing. When central judges it
  invalid, a second clock, verdict_reply, runs invalid_complaint_reply_h (2 h) from the
  verdict (确认无效投诉后，2小时内回复业户); a reply recorded after the verdict meets it.
- repair: on site within urgent_onsite_min (15 min) when urgent (water or power), or
  equipment_fault_onsite_min (15 min) for an equipment fault (a category in
  tickets.equipment_categories); completion the same day (不过夜, by 23:59) when
  ordinary_repair_same_day and reported before same_day_cutoff, never later than
  repair_complete_h (24 h) after the report.
- urgent incident report: on site as an urgent repair; first reply as below.
- enquiry, suggestion, praise, incident: first reply within general_reply_h.
- return visit: started when the work is done, due return_visit_working_days (2) working
  days later on China's official calendar (lobby/services/workdays.py), for every repair
  and every complaint not judged invalid (complaint_return_visit_pct, 100 %).
- next reply: the time central agreed with the tenant (next_reply_by).

Each clock has a shape: a fixed *duration* (first_reply, on_site, verdict_reply), a
*calendar* deadline that depends on the local day and time it starts from (completion,
return_visit), or an *absolute* time given by central (next_reply).

A clock started while the wall clock is not synchronised is *provisional* (anchored 0):
its due time is shown and printed as a duration ("2小时内 / within 2 hours"), never as a
time of day that may be wrong; completion is promised within repair_complete_h (the same-
day rule needs the true time of day). Once NTP syncs, `reanchor` moves every provisional
clock onto true time: within the boot that started it exactly (the monotonic clock knows
how long ago it started), after a reboot on the latest start the evidence allows (so the
deadline can only be late, never early). Each correction is recorded and sent to central
as `ticket.sla_corrected`. Whether a clock is overdue is decided in sla_evidence.py;
alerts and their escalation in escalation.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from mqtt_bridge.alerts import alert_key
from mqtt_bridge.clock import Instant, parse_ts
from mqtt_bridge.store import Transaction
from mqtt_bridge.timebase import rfc3339

from lobby.services.context import ServiceContext, rows
from lobby.services.sla_evidence import elapsed_lower_bound, note_boot
from lobby.services.workdays import WorkingCalendar

log = logging.getLogger(__name__)

CLOCKS: dict[str, tuple[str, str]] = {
    "first_reply": ("首次答复", "first reply"),
    "on_site": ("到场", "staff on site"),
    "completion": ("维修完成", "repair completed"),
    "return_visit": ("回访", "return visit"),
    "next_reply": ("再次答复", "next reply"),
    "verdict_reply": ("无效投诉答复", "reply after the invalid verdict"),
}
SHAPES: dict[str, str] = {"first_reply": "duration", "on_site": "duration", "verdict_reply": "duration",
                          "completion": "calendar", "return_visit": "calendar", "next_reply": "absolute"}
REPLY_CLOCKS = ("first_reply", "next_reply", "verdict_reply")


def duration_text(seconds: float) -> tuple[str, str]:
    """2小时 / 2 hours; 15分钟 / 15 minutes; 1.5 h as 90分钟 / 90 minutes; whole days as 2天 / 2 days."""
    minutes = round(seconds / 60)
    if minutes % 1440 == 0 and minutes >= 2880:
        days = minutes // 1440
        return f"{days}天", f"{days} days"
    if minutes % 60 == 0 and minutes >= 60:
        hours = minutes // 60
        return f"{hours}小时", f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes}分钟", f"{minutes} minute{'s' if minutes != 1 else ''}"


def add_working_days(start: dt.datetime, days: int, holidays: set[str], extra: set[str]) -> dt.datetime:
    """The same local time `days` working days later on China's calendar with these corrections."""
    return WorkingCalendar(holidays, extra).add_working_days(start, days)[0]


@dataclass(frozen=True)
class Deadline:
    seconds: float  # from the start
    basis: str  # fixed (a duration or a time of day), official / central / estimated (working days)
    seconds_safe: bool  # never shorter than the true length (see sla_evidence)


class SlaClocks:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @property
    def calendar(self) -> WorkingCalendar:
        return WorkingCalendar.from_service(self.ctx.cfg.service)

    # -------------------------------------------------------------- planning

    def clocks_for(self, kind: str, urgent: bool, equipment_fault: bool) -> list[str]:
        """The clocks a new ticket starts with."""
        if kind == "repair":
            return (["on_site"] if urgent or equipment_fault else []) + ["completion"]
        if kind == "incident" and urgent:
            return ["on_site", "first_reply"]
        return ["first_reply"]

    def deadline(self, clock: str, ticket: dict[str, Any], start: dt.datetime, synced: bool) -> Deadline:
        """How long `clock` runs from `start` (site-local wall time, true only when `synced`)."""
        svc = self.ctx.cfg.service
        if clock == "first_reply":
            hours = svc.complaint_reply_h if ticket["kind"] == "complaint" else svc.general_reply_h
            return Deadline(hours * 3600, "fixed", True)
        if clock == "on_site":
            minutes = svc.urgent_onsite_min if ticket["urgent"] else svc.equipment_fault_onsite_min
            return Deadline(minutes * 60, "fixed", True)
        if clock == "verdict_reply":
            return Deadline(svc.invalid_complaint_reply_h * 3600, "fixed", True)
        if clock == "completion":
            limit = svc.repair_complete_h * 3600
            if synced and svc.ordinary_repair_same_day and start.time() < svc.same_day_cutoff:
                end_of_day = dt.datetime.combine(start.date(), dt.time(23, 59), start.tzinfo)
                return Deadline(min(limit, (end_of_day - start).total_seconds()), "fixed", True)
            return Deadline(limit, "fixed", True)  # unsynced: the longest the rule allows, so never early
        if clock == "return_visit":
            due, basis = self.calendar.add_working_days(start, svc.return_visit_working_days)
            return Deadline((due - start).total_seconds(), basis, synced)
        raise ValueError(f"clock {clock} has no deadline rule")

    def sampled(self, kind: str, ticket_no: str) -> bool:
        """Whether a complaint falls within complaint_return_visit_pct (every one at the DOMAIN's 100 %)."""
        if kind != "complaint":
            return True
        bucket = int.from_bytes(hashlib.sha256(ticket_no.encode()).digest()[:2], "big") % 100
        return bucket < self.ctx.cfg.service.complaint_return_visit_pct

    # -------------------------------------------------------------- writing

    def start(self, tx: Transaction, ticket: dict[str, Any], clock: str, now: Instant,
              absolute_due: dt.datetime | None = None) -> str:
        """Start (or restart) a clock; returns its due time (RFC 3339, provisional while unsynced)."""
        number = ticket["ticket_no"]
        if absolute_due is not None:
            plan = Deadline((absolute_due - now.wall).total_seconds(), "fixed", now.synced)
        else:
            plan = self.deadline(clock, ticket, now.local(self.ctx.tz), now.synced)
        due = rfc3339(now.wall + dt.timedelta(seconds=plan.seconds)) if absolute_due is None else rfc3339(absolute_due)
        old = tx.execute("SELECT level, state FROM sla_clocks WHERE ticket_no = ? AND clock = ?",
                         (number, clock)).fetchone()
        if old is not None and old[0] and old[1] == "running":
            self._clear(tx, number, clock)
        tx.execute("INSERT INTO sla_clocks (ticket_no, clock, started_ts, boot_id, mono_ns, due_ts, due_in_s, state, "
                   "anchored, seconds_safe, basis) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?) "
                   "ON CONFLICT(ticket_no, clock) DO UPDATE SET started_ts=excluded.started_ts, "
                   "boot_id=excluded.boot_id, mono_ns=excluded.mono_ns, due_ts=excluded.due_ts, "
                   "due_in_s=excluded.due_in_s, state='running', overdue=0, level=0, met_ts=NULL, "
                   "anchored=excluded.anchored, seconds_safe=excluded.seconds_safe, basis=excluded.basis",
                   (number, clock, now.ts, now.boot_id, now.mono_ns, due, plan.seconds,
                    int(now.synced or absolute_due is not None), int(plan.seconds_safe), plan.basis))
        note_boot(tx, now)
        return due

    def finish(self, tx: Transaction, ticket_no: str, clocks: tuple[str, ...], now: Instant,
               state: str = "met") -> list[str]:
        """Stop running clocks (met or cancelled) and clear their overdue alerts."""
        stopped = []
        for r in rows(tx, "SELECT clock, level FROM sla_clocks WHERE ticket_no = ? AND state = 'running'",
                      (ticket_no,)):
            if r["clock"] not in clocks:
                continue
            tx.execute("UPDATE sla_clocks SET state = ?, met_ts = ? WHERE ticket_no = ? AND clock = ?",
                       (state, now.ts, ticket_no, r["clock"]))
            if r["level"]:
                self._clear(tx, ticket_no, r["clock"])
            stopped.append(r["clock"])
        return stopped

    def _clear(self, tx: Transaction, ticket_no: str, clock: str) -> None:
        assert self.ctx.alerts is not None
        self.ctx.alerts.clear(alert_key("ticket.overdue", ticket_no, clock), tx=tx)

    # -------------------------------------------------------------- re-anchoring after NTP

    def reanchor(self, tx: Transaction, now: Instant) -> list[dict[str, Any]]:
        """Move provisional clocks onto true time once the wall clock is synced; returns the corrections sent.

        An agreed next-reply time is true time already (central set it); only its length from the
        start is repaired, within the boot that started it, and no correction is sent for it.
        """
        if not now.synced:
            return []
        for c in rows(tx, "SELECT ticket_no, clock, mono_ns, due_ts FROM sla_clocks WHERE state = 'running' AND "
                          "clock = 'next_reply' AND seconds_safe = 0 AND boot_id = ?", (now.boot_id,)):
            start = now.wall - dt.timedelta(seconds=(now.mono_ns - c["mono_ns"]) / 1e9)
            tx.execute("UPDATE sla_clocks SET started_ts = ?, due_in_s = ?, seconds_safe = 1 WHERE ticket_no = ? "
                       "AND clock = 'next_reply'", (rfc3339(start), (parse_ts(c["due_ts"]) - start).total_seconds(),
                                                    c["ticket_no"]))
        found = rows(tx, "SELECT c.*, t.kind, t.urgent, t.equipment_fault, t.clock_synced AS t_synced, "
                         "t.boot_id AS t_boot, t.mono_ns AS t_mono, t.created_ts FROM sla_clocks c "
                         "JOIN tickets t ON t.ticket_no = c.ticket_no WHERE c.state = 'running' AND c.anchored = 0 "
                         "ORDER BY c.ticket_no, c.clock")
        events: dict[str, dict[str, Any]] = {}
        for c in found:
            exact = c["boot_id"] == now.boot_id
            elapsed = elapsed_lower_bound(tx, c, now)
            start = now.wall - dt.timedelta(seconds=elapsed)
            shape = SHAPES[c["clock"]]
            plan = self.deadline(c["clock"], c, start.astimezone(self.ctx.tz), True)
            seconds, basis = plan.seconds, plan.basis
            due = start + dt.timedelta(seconds=seconds)
            safe, anchored = exact or shape == "duration", 1 if exact else 2
            tx.execute("UPDATE sla_clocks SET started_ts = ?, due_ts = ?, due_in_s = ?, anchored = ?, seconds_safe = ?, "
                       "basis = ? WHERE ticket_no = ? AND clock = ?",
                       (rfc3339(start), rfc3339(due), seconds, anchored, int(safe), basis, c["ticket_no"], c["clock"]))
            event = events.setdefault(c["ticket_no"], {"ticket_no": c["ticket_no"], "exact": exact,
                                                       "corrected_at": now.ts, "clocks": {}})
            event["exact"] = event["exact"] and exact
            event["clocks"][c["clock"]] = {"due": rfc3339(due), "previous_due": c["due_ts"]}
            if exact and not c["t_synced"] and c["t_boot"] == now.boot_id:
                created = now.wall - dt.timedelta(seconds=(now.mono_ns - c["t_mono"]) / 1e9)
                tx.execute("UPDATE tickets SET created_ts = ?, site_day = ?, clock_synced = 1 WHERE ticket_no = ?",
                           (rfc3339(created), self.ctx.site_day(created), c["ticket_no"]))
                event["created_at"] = rfc3339(created)
        for event in events.values():
            tx.emit("ticket", "ticket.sla_corrected", event)
        if events:
            log.info("%d tickets' deadlines re-anchored on the synchronised clock", len(events))
        return list(events.values())
