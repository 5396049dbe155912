"""Central's ticket.update, applied in the command intake's transaction through the state machine.

Central moves a ticket on (status), replies to the person (reply; the text stays here and
is shown at the kiosk, the event says only that a reply was recorded), agrees the next
reply time (next_reply_by), judges a complaint (valid) and may exempt a ticket from its
return visit with a listed reason (return_visit_exempt). ticket_rules.check() decides
whether the change is allowed; a refusal answers central with the rule's name and
changes nothing. The clocks then follow the new state (see sla.py).
"""

from __future__ import annotations

from typing import Any

from mqtt_bridge.commands.intake import CommandRejected, command_time
from mqtt_bridge.clock import Instant
from mqtt_bridge.store import Transaction

from lobby.services.context import ServiceContext, row
from lobby.services.messages import ValidationFailed
from lobby.services.sla import CLOCKS, SlaClocks
from lobby.services.text import clean_company, clean_free_text
from lobby.services.ticket_rules import Move, Refused, TicketFacts, check


class TicketUpdates:
    def __init__(self, ctx: ServiceContext, sla: SlaClocks) -> None:
        self.ctx = ctx
        self.sla = sla

    def facts(self, ticket: dict[str, Any]) -> TicketFacts:
        return TicketFacts.from_row(ticket, self.sla.sampled(ticket["kind"], ticket["ticket_no"]))

    def apply_update_tx(self, tx: Transaction, data: dict[str, Any], command_id: str | None = None,
                        now: Instant | None = None) -> dict[str, Any]:
        now = self.ctx.now(now)
        number = data["ticket_no"]
        ticket = row(tx, "SELECT * FROM tickets WHERE ticket_no = ?", (number,))
        if ticket is None:
            raise CommandRejected(f"there is no ticket {number} at this gateway")
        reply = None
        if "reply" in data:
            try:
                reply = clean_free_text(data["reply"], field="reply", max_len=1000)
            except ValidationFailed as exc:
                raise CommandRejected(f"reply: {exc.errors[0].en}") from None
        assignee = ticket["assignee"]
        if "assignee" in data:
            try:
                assignee = clean_company(data["assignee"], field="assignee", max_len=64, required=True)
            except ValidationFailed as exc:
                raise CommandRejected(f"assignee: {exc.errors[0].en}") from None
        next_reply_by = data.get("next_reply_by")
        next_due = None if next_reply_by is None else command_time(next_reply_by, "next_reply_by")
        facts = self.facts(ticket)
        move = Move(status=data.get("status"), reply=reply is not None, next_reply_by=next_due,
                    valid=data.get("valid"), exemption=data.get("return_visit_exempt"), assignee="assignee" in data)
        try:
            after = check(facts, move, now.wall, clock_trusted=now.synced)
        except Refused as exc:
            raise CommandRejected(exc.central) from None

        current, target = facts.status, after.status
        tx.execute("INSERT INTO ticket_updates (ticket_no, ts, status_from, status_to, reply, assignee, next_reply_by, "
                   "source, command_id) VALUES (?, ?, ?, ?, ?, ?, ?, 'central', ?)",
                   (number, now.ts, current, target, reply, assignee if "assignee" in data else None,
                    next_reply_by, command_id))
        tx.execute("UPDATE tickets SET status = ?, assignee = ?, updated_ts = ?, "
                   "done_ts = CASE WHEN ? = 'done' AND done_ts IS NULL THEN ? ELSE done_ts END, "
                   "closed_ts = CASE WHEN ? = 'closed' THEN ? ELSE closed_ts END, "
                   "return_visit_ts = CASE WHEN ? = 'return_visit_done' AND return_visit_ts IS NULL THEN ? "
                   "ELSE return_visit_ts END, return_visit_exempt = ?, return_visit_required = ?, "
                   "complaint_valid = ?, verdict_ts = CASE WHEN ? THEN ? ELSE verdict_ts END WHERE ticket_no = ?",
                   (target, assignee, now.ts, target, now.ts, target, now.ts, target, now.ts, after.exemption,
                    int(after.return_visit_required), None if after.complaint_valid is None else int(after.complaint_valid),
                    move.valid is not None, now.ts, number))
        self._clocks_after(tx, ticket, facts.complaint_valid, after.complaint_valid, move, current, target,
                           after.owes_return_visit, now)
        event: dict[str, Any] = {"ticket_no": number, "status": target, "previous_status": current,
                                 "reply_recorded": reply is not None, "source": "central", "updated_at": now.ts}
        if move.valid is not None:
            event["valid"] = move.valid
        if after.return_visit_required != facts.return_visit_required:
            event["return_visit_required"] = after.return_visit_required
        if move.exemption is not None:
            event["return_visit_exempt"] = move.exemption
        if "assignee" in data:
            event["assignee"] = assignee
        if next_due is not None:
            event["next_reply_by"] = tx.execute("SELECT due_ts FROM sla_clocks WHERE ticket_no = ? AND clock = "
                                                "'next_reply'", (number,)).fetchone()[0]
        tx.emit("ticket", "ticket.updated", event)
        return {"ticket_no": number, "status": target, "previous_status": current}

    def _clocks_after(self, tx: Transaction, ticket: dict[str, Any], was_valid: bool | None, valid: bool | None,
                      move: Move, current: str, target: str, owes_return_visit: bool, now: Instant) -> None:
        sla, number = self.sla, ticket["ticket_no"]
        if move.valid is False and was_valid is not False:  # judged invalid: reply within 2 h of the verdict
            sla.finish(tx, number, ("return_visit",), now, state="cancelled")
            sla.start(tx, ticket, "verdict_reply", now)
        elif move.valid is True and was_valid is False:  # judged valid again
            sla.finish(tx, number, ("verdict_reply",), now, state="cancelled")
            if target in ("done",) and owes_return_visit:
                sla.start(tx, ticket, "return_visit", now)
        if move.reply:
            sla.finish(tx, number, ("first_reply", "next_reply", "verdict_reply"), now)
        if target in ("on_site", "done", "return_visit_done"):
            sla.finish(tx, number, ("on_site",), now)
        if target in ("done", "return_visit_done"):
            sla.finish(tx, number, ("completion", "first_reply"), now)
        if target == "done" and current != "done" and owes_return_visit:
            sla.start(tx, ticket, "return_visit", now)
        if target == "return_visit_done":
            sla.finish(tx, number, ("return_visit",), now)
        if move.exemption is not None:
            sla.finish(tx, number, ("return_visit",), now, state="cancelled")
        if target == "closed":
            sla.finish(tx, number, tuple(CLOCKS), now, state="cancelled")
        elif move.next_reply_by is not None:
            sla.start(tx, ticket, "next_reply", now, absolute_due=move.next_reply_by)
