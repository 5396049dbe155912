"""Overdue clocks raise an alert, then escalate one level at a time (DOMAIN: staff -> supervisor
-> manager -> director; hard cases climb the same ladder).

A running clock proven overdue (sla_evidence.past) raises level 1, addressed to the staff.
If it is still overdue `service.escalation_interval_min` later, level 2 (the customer-service
supervisor), then 3 (the manager), then 4 (the office director), never skipping a level:
each check climbs at most one step, so even after a long outage every role is told in turn.
The level lives in the clock's row (`level`) and in the alert's detail (`level`, `role`,
`role_zh`) and title, so the staff screen and central (the retained alert and its
`alert.escalated` event) see who should act now. Meeting or cancelling the clock clears the
alert; an acknowledgement does not stop the climb (the clock is still overdue), but each
new level asks for a new acknowledgement.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from mqtt_bridge.alerts import Severity, alert_key
from mqtt_bridge.clock import Instant

from lobby.services.context import ServiceContext, rows
from lobby.services.sla import CLOCKS, SlaClocks
from lobby.services.sla_evidence import note_boot, past

log = logging.getLogger(__name__)

ROLES: tuple[tuple[str, str, str], ...] = (
    ("staff", "客服员", "staff"),
    ("supervisor", "客服主管", "supervisor"),
    ("manager", "经理", "manager"),
    ("director", "管理处主任", "office director"),
)
TOP_LEVEL = len(ROLES)


@dataclass
class CheckReport:
    raised: list[str] = field(default_factory=list)  # alert keys raised at level 1 by this call
    escalated: list[str] = field(default_factory=list)  # alert keys that climbed a level
    cleared: list[str] = field(default_factory=list)
    overdue: int = 0  # running clocks overdue now (alerted before or now)
    corrected: int = 0  # tickets whose provisional deadlines were re-anchored on a synced clock


def role(level: int) -> tuple[str, str, str]:
    return ROLES[min(max(level, 1), TOP_LEVEL) - 1]


class Escalator:
    def __init__(self, ctx: ServiceContext, sla: SlaClocks) -> None:
        self.ctx = ctx
        self.sla = sla

    def check(self, now: Instant | None = None) -> CheckReport:
        """Re-anchor provisional clocks, raise and escalate overdue alerts, clear stale ones.

        The gateway calls this every minute; it is idempotent and safe to call at any rate.
        """
        now = self.ctx.now(now)
        report = CheckReport()
        interval_s = self.ctx.cfg.service.escalation_interval_min * 60
        alerts = self.ctx.alerts
        assert alerts is not None
        with self.ctx.store.transaction() as tx:
            note_boot(tx, now)
            report.corrected = len(self.sla.reanchor(tx, now))
            running = rows(tx, "SELECT c.*, t.kind, t.category, t.urgent FROM sla_clocks c "
                               "JOIN tickets t ON t.ticket_no = c.ticket_no WHERE c.state = 'running'")
            for c in running:
                level = c["level"]
                if not (level or past(tx, c, now)):
                    continue
                report.overdue += 1
                if level >= TOP_LEVEL or not past(tx, c, now, level * interval_s):
                    continue
                level += 1
                key = alert_key("ticket.overdue", c["ticket_no"], c["clock"])
                code, role_zh, role_en = role(level)
                zh, en = CLOCKS[c["clock"]]
                severity = Severity.CRITICAL if c["clock"] == "on_site" or level >= 3 else Severity.WARNING
                title = f"工单超时：{zh}（第{level}级 {role_zh}） Ticket overdue: {en} (level {level}, {role_en})"
                detail = {"ticket_no": c["ticket_no"], "clock": c["clock"], "kind": c["kind"],
                          "category": c["category"], "urgent": bool(c["urgent"]), "due": c["due_ts"],
                          "due_provisional": c["anchored"] == 0, "level": level, "role": code, "role_zh": role_zh}
                if level == 1:
                    alerts.raise_alert(key, severity, title, detail, tx=tx)
                    report.raised.append(key)
                else:
                    alerts.escalate(key, severity, title, detail, tx=tx)
                    report.escalated.append(key)
                tx.execute("UPDATE sla_clocks SET overdue = 1, level = ? WHERE ticket_no = ? AND clock = ?",
                           (level, c["ticket_no"], c["clock"]))
            # a safety net: a stopped clock whose alert is somehow still active
            for a in rows(tx, "SELECT key FROM alerts WHERE key LIKE 'ticket.overdue:%' AND state = 'active'"):
                parts = a["key"].split(":")
                if len(parts) != 3:
                    continue
                still = tx.execute("SELECT 1 FROM sla_clocks WHERE ticket_no = ? AND clock = ? AND state = 'running'",
                                   (parts[1].upper(), parts[2])).fetchone()
                if still is None and alerts.clear(a["key"], tx=tx):
                    report.cleared.append(a["key"])
        if report.raised or report.escalated:
            log.warning("ticket clocks overdue: %d newly, %d escalated", len(report.raised), len(report.escalated))
        return report
