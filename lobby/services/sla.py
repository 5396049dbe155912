"""SLA clocks: the promises made to a tenant, when each is due, and overdue alerts.

Which clocks a ticket gets (numbers from [service], DOMAIN defaults):
- complaint: first reply within complaint_reply_h (2 h). At the kiosk nobody
  can tell a valid from an invalid complaint, and both get a reply within 2 h,
  so the shorter of complaint_reply_h / invalid_complaint_reply_h is used.
- repair: on site within urgent_onsite_min (15 min) when urgent (water or
  power), or equipment_fault_onsite_min (15 min) for an equipment fault (a
  category in tickets.equipment_categories); completion the same day (不过夜,
  by 23:59) when ordinary_repair_same_day and reported before same_day_cutoff,
  never later than repair_complete_h (24 h) after the report.
- urgent incident report: on site as an urgent repair; first reply as below.
- enquiry, suggestion, praise, incident: first reply within general_reply_h.
- return visit: started when the work is done, due return_visit_working_days
  (2) working days later (weekends, [service] holidays and extra_workdays
  respected) for every repair and for complaint_return_visit_pct (100 %) of
  complaints.
- next reply: when central agrees a time for the next reply (next_reply_by).

Due times are stored in UTC (they are shown and printed to the tenant, and must
survive reboots). Whether a clock is overdue is judged on the monotonic clock
while the boot that started the clock lasts: a wall-clock step (NTP correcting
a Pi without an RTC, a wrong manual setting) neither fires nor delays an alert.
After a reboot the monotonic origin is gone and only the wall clock remains;
that is right for deadlines of minutes to days because Raspberry Pi OS restores
the last saved time at boot (fake-hwclock) and NTP then only moves it forward
to the truth, so a late-synced clock can delay an alert but not fake one.
An alert is raised at most once per clock (the `overdue` flag is set in the same
transaction) and cleared when the clock is met or cancelled, so neither a clock
jump nor a repeated check can double it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from mqtt_bridge.alerts import Severity, alert_key
from mqtt_bridge.store import Transaction
from mqtt_bridge.timebase import rfc3339

from mqtt_bridge.clock import Instant, parse_ts
from lobby.services.context import ServiceContext, rows

log = logging.getLogger(__name__)

CLOCKS: dict[str, tuple[str, str]] = {
    "first_reply": ("首次答复", "first reply"),
    "on_site": ("到场", "staff on site"),
    "completion": ("维修完成", "repair completed"),
    "return_visit": ("回访", "return visit"),
    "next_reply": ("再次答复", "next reply"),
}


def duration_text(seconds: float) -> tuple[str, str]:
    """2小时 / 2 hours; 15分钟 / 15 minutes; 1.5 h as 90分钟 / 90 minutes."""
    minutes = round(seconds / 60)
    if minutes % 60 == 0 and minutes >= 60:
        hours = minutes // 60
        return f"{hours}小时", f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes}分钟", f"{minutes} minute{'s' if minutes != 1 else ''}"


def is_workday(day: dt.date, holidays: set[str], extra: set[str]) -> bool:
    iso = day.isoformat()
    if iso in extra:
        return True
    if iso in holidays:
        return False
    return day.weekday() < 5


def add_working_days(start: dt.datetime, days: int, holidays: set[str], extra: set[str]) -> dt.datetime:
    """The same local time `days` working days later (start must be site-local)."""
    day = start.date()
    counted = 0
    while counted < days:
        day += dt.timedelta(days=1)
        if is_workday(day, holidays, extra):
            counted += 1
    return dt.datetime.combine(day, start.timetz().replace(tzinfo=None), start.tzinfo)


@dataclass(frozen=True)
class PlannedClock:
    clock: str
    due: dt.datetime  # UTC
    seconds: float  # from the start


@dataclass
class CheckReport:
    raised: list[str] = field(default_factory=list)  # alert keys raised by this call
    cleared: list[str] = field(default_factory=list)
    overdue: int = 0  # running clocks overdue now (alerted before or now)


class SlaClocks:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # -------------------------------------------------------------- planning

    def plan(self, kind: str, urgent: bool, equipment_fault: bool, start: Instant) -> list[PlannedClock]:
        svc = self.ctx.cfg.service
        plans: list[tuple[str, float]] = []
        if kind == "complaint":
            plans.append(("first_reply", min(svc.complaint_reply_h, svc.invalid_complaint_reply_h) * 3600))
        elif kind == "repair":
            if urgent:
                plans.append(("on_site", svc.urgent_onsite_min * 60))
            elif equipment_fault:
                plans.append(("on_site", svc.equipment_fault_onsite_min * 60))
            plans.append(("completion", self._completion_seconds(start)))
        else:
            if kind == "incident" and urgent:
                plans.append(("on_site", svc.urgent_onsite_min * 60))
            plans.append(("first_reply", svc.general_reply_h * 3600))
        return [PlannedClock(name, start.wall + dt.timedelta(seconds=secs), secs) for name, secs in plans]

    def _completion_seconds(self, start: Instant) -> float:
        svc = self.ctx.cfg.service
        limit = svc.repair_complete_h * 3600
        local = start.local(self.ctx.tz)
        if svc.ordinary_repair_same_day and local.time() < svc.same_day_cutoff:
            end_of_day = dt.datetime.combine(local.date(), dt.time(23, 59), self.ctx.tz)
            return min(limit, (end_of_day - local).total_seconds())
        return limit

    def return_visit_required(self, kind: str, ticket_no: str) -> bool:
        if kind == "repair":
            return True
        if kind == "complaint":
            pct = self.ctx.cfg.service.complaint_return_visit_pct
            bucket = int.from_bytes(hashlib.sha256(ticket_no.encode()).digest()[:2], "big") % 100
            return bucket < pct
        return False

    # -------------------------------------------------------------- writing

    def start(self, tx: Transaction, ticket_no: str, clock: str, due_in_s: float, now: Instant) -> str:
        due = rfc3339(now.wall + dt.timedelta(seconds=due_in_s))
        old = tx.execute("SELECT overdue, state FROM sla_clocks WHERE ticket_no = ? AND clock = ?",
                         (ticket_no, clock)).fetchone()
        if old is not None and old[0] and old[1] == "running":
            self._clear(tx, ticket_no, clock)
        tx.execute("INSERT INTO sla_clocks (ticket_no, clock, started_ts, boot_id, mono_ns, due_ts, due_in_s, state) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, 'running') ON CONFLICT(ticket_no, clock) DO UPDATE SET "
                   "started_ts=excluded.started_ts, boot_id=excluded.boot_id, mono_ns=excluded.mono_ns, "
                   "due_ts=excluded.due_ts, due_in_s=excluded.due_in_s, state='running', overdue=0, met_ts=NULL",
                   (ticket_no, clock, now.ts, now.boot_id, now.mono_ns, due, due_in_s))
        return due

    def start_return_visit(self, tx: Transaction, ticket_no: str, now: Instant) -> str:
        svc = self.ctx.cfg.service
        local = now.local(self.ctx.tz)
        due = add_working_days(local, svc.return_visit_working_days, set(svc.holidays), set(svc.extra_workdays))
        return self.start(tx, ticket_no, "return_visit", (due - local).total_seconds(), now)

    def finish(self, tx: Transaction, ticket_no: str, clocks: tuple[str, ...], now: Instant,
               state: str = "met") -> list[str]:
        """Stop running clocks (met or cancelled) and clear their overdue alerts."""
        stopped = []
        for r in rows(tx, "SELECT clock, overdue FROM sla_clocks WHERE ticket_no = ? AND state = 'running'",
                      (ticket_no,)):
            if r["clock"] not in clocks:
                continue
            tx.execute("UPDATE sla_clocks SET state = ?, met_ts = ? WHERE ticket_no = ? AND clock = ?",
                       (state, now.ts, ticket_no, r["clock"]))
            if r["overdue"]:
                self._clear(tx, ticket_no, r["clock"])
            stopped.append(r["clock"])
        return stopped

    def _clear(self, tx: Transaction, ticket_no: str, clock: str) -> None:
        assert self.ctx.alerts is not None
        self.ctx.alerts.clear(alert_key("ticket.overdue", ticket_no, clock), tx=tx)

    # -------------------------------------------------------------- judging

    @staticmethod
    def is_overdue(clock: dict[str, Any], now: Instant) -> bool:
        if clock["boot_id"] == now.boot_id:
            return now.mono_ns - clock["mono_ns"] >= clock["due_in_s"] * 1e9
        return now.wall >= parse_ts(clock["due_ts"])

    def check_overdue(self, now: Instant | None = None) -> CheckReport:
        """Raise an alert for each running clock that has become overdue (once), clear stale ones.

        The gateway calls this every minute; it is idempotent and safe to call at any rate.
        """
        now = self.ctx.now(now)
        report = CheckReport()
        assert self.ctx.alerts is not None
        with self.ctx.store.transaction() as tx:
            running = rows(tx, "SELECT c.*, t.kind, t.category, t.urgent FROM sla_clocks c "
                               "JOIN tickets t ON t.ticket_no = c.ticket_no WHERE c.state = 'running'")
            for c in running:
                if not self.is_overdue(c, now):
                    continue
                report.overdue += 1
                if c["overdue"]:
                    continue  # alerted once already: never again for this clock
                key = alert_key("ticket.overdue", c["ticket_no"], c["clock"])
                zh, en = CLOCKS[c["clock"]]
                severity = Severity.CRITICAL if c["clock"] == "on_site" else Severity.WARNING
                self.ctx.alerts.raise_alert(
                    key, severity, f"工单超时：{zh} Ticket overdue: {en}",
                    {"ticket_no": c["ticket_no"], "clock": c["clock"], "kind": c["kind"], "category": c["category"],
                     "urgent": bool(c["urgent"]), "due": c["due_ts"]}, tx=tx)
                tx.execute("UPDATE sla_clocks SET overdue = 1 WHERE ticket_no = ? AND clock = ?",
                           (c["ticket_no"], c["clock"]))
                report.raised.append(key)
            # a safety net: a stopped clock whose alert is somehow still active
            for a in rows(tx, "SELECT key FROM alerts WHERE key LIKE 'ticket.overdue:%' AND state = 'active'"):
                parts = a["key"].split(":")
                if len(parts) != 3:
                    continue
                still = tx.execute("SELECT 1 FROM sla_clocks WHERE ticket_no = ? AND clock = ? AND state = 'running'",
                                   (parts[1].upper(), parts[2])).fetchone()
                if still is None and self.ctx.alerts.clear(a["key"], tx=tx):
                    report.cleared.append(a["key"])
        if report.raised:
            log.warning("%d ticket clocks became overdue", len(report.raised))
        return report
