"""The ticket state machine: its states, the moves allowed between them, and the guards.

Every path that changes a ticket goes through `check()` here: the kiosk and the GPIO
buttons create tickets in `received`; central's ticket.update moves them on
(lobby/services/ticket_updates.py). Nothing else writes a ticket's status.

States: received -> assigned -> on_site -> done -> return_visit_done -> closed. The moves
are an allow-list (TRANSITIONS); skipping ahead is allowed where the work allows it (an
enquiry answered at once, an invalid complaint). The guards are the department's rules,
each with a name that every refusal carries (to central, in value-free English; to a
screen, in Chinese and English):

- transition_allowed: only the moves in TRANSITIONS.
- closed_is_final: a closed ticket takes no more changes.
- verdict_complaints_only: only complaints are judged valid or invalid.
- return_visit_before_close: a ticket that owes a return visit (every repair, every
  complaint not judged invalid: 有效投诉回访率100%) is closed only after the return visit is
  recorded (status return_visit_done) or central gives an exemption reason.
- exemption_reason: exemptions come from an allow-list (EXEMPTIONS); "anonymous" only for a
  ticket with no contact details, and only where a return visit is owed.
- next_reply_agreed: a reply to a complaint that is not settled (not done, not closed, not
  judged invalid) agrees the time of the next reply (约定下次回复时间).
- next_reply_in_future: that agreed time lies ahead (judged only on a synchronised clock).
- next_reply_open_ticket: a next reply is agreed only on a ticket that stays open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from lobby.services.messages import Message

STATES: tuple[str, ...] = ("received", "assigned", "on_site", "done", "return_visit_done", "closed")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "received": ("assigned", "on_site", "done", "closed"),
    "assigned": ("assigned", "on_site", "done", "closed"),
    "on_site": ("done",),
    "done": ("return_visit_done", "closed"),
    "return_visit_done": ("closed",),
    "closed": (),
}
SETTLED = ("done", "return_visit_done", "closed")
EXEMPTIONS: dict[str, tuple[str, str]] = {
    "anonymous": ("匿名，无联系方式", "anonymous: no contact details"),
    "tenant_refused": ("业户拒绝回访", "the tenant declined the return visit"),
}


@dataclass(frozen=True)
class Rule:
    id: str
    zh: str
    en: str


RULES: dict[str, Rule] = {r.id: r for r in (
    Rule("transition_allowed", "工单不能从当前状态转到该状态。", "this status change is not an allowed move"),
    Rule("closed_is_final", "工单已办结，不能再更改。", "the ticket is closed and takes no more changes"),
    Rule("verdict_complaints_only", "只有投诉才判定有效或无效。", "only complaints are judged valid or invalid"),
    Rule("return_visit_before_close", "需先完成回访（或由总部给出免回访原因）才能办结。",
         "it needs its return visit first (status return_visit_done), or a return_visit_exempt reason "
         "from central, before it can be closed"),
    Rule("exemption_reason", "免回访原因不适用于此工单。",
         "a return-visit exemption needs a listed reason (anonymous only without contact details) and a "
         "ticket that owes a return visit"),
    Rule("next_reply_agreed", "答复未办结的投诉时，须约定下次答复时间。",
         "a reply to a complaint that is not settled must agree the time of the next reply (next_reply_by)"),
    Rule("next_reply_in_future", "约定的下次答复时间须在将来。", "next_reply_by must be in the future"),
    Rule("next_reply_open_ticket", "办结工单时不能再约定下次答复。",
         "a next reply can be agreed only on a ticket that stays open, not while closing it"),
)}


class Refused(Exception):
    """A move the rules do not allow; `central` is the value-free English error for the command result."""

    def __init__(self, rule: str, ticket_no: str, detail: str = "") -> None:
        self.rule = RULES[rule]
        self.ticket_no = ticket_no
        self.detail = detail
        super().__init__(self.central)

    @property
    def central(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"ticket {self.ticket_no}: refused by rule {self.rule.id}: {self.rule.en}{extra}"

    @property
    def message(self) -> Message:
        return Message(f"refused.{self.rule.id}", f"对不起，{self.rule.zh}（规则 {self.rule.id}）",
                       f"Sorry, {self.rule.en} (rule {self.rule.id}).")


@dataclass(frozen=True)
class TicketFacts:
    """What the guards need to know about a ticket (read from its row)."""

    ticket_no: str
    kind: str
    status: str
    sampled: bool  # within service.complaint_return_visit_pct (always, at the DOMAIN's 100 %)
    return_visit_done: bool
    exemption: str | None
    has_contact: bool
    complaint_valid: bool | None

    @classmethod
    def from_row(cls, t: dict[str, object], sampled: bool) -> "TicketFacts":
        valid = t.get("complaint_valid")
        return cls(str(t["ticket_no"]), str(t["kind"]), str(t["status"]), sampled,
                   t.get("return_visit_ts") is not None, t.get("return_visit_exempt") or None,  # type: ignore[arg-type]
                   bool(t.get("contact_phone") or t.get("contact_name")), None if valid is None else bool(valid))

    @property
    def return_visit_required(self) -> bool:
        return self.sampled and return_visit_owed(self.kind, self.complaint_valid)

    @property
    def owes_return_visit(self) -> bool:
        return self.return_visit_required and not self.return_visit_done and self.exemption is None


@dataclass(frozen=True)
class Move:
    """One change central asks for (any part may be absent)."""

    status: str | None = None
    reply: bool = False
    next_reply_by: dt.datetime | None = None
    valid: bool | None = None
    exemption: str | None = None
    assignee: bool = False

    @property
    def changes_anything(self) -> bool:
        return any((self.status is not None, self.reply, self.next_reply_by is not None, self.valid is not None,
                    self.exemption is not None, self.assignee))


def return_visit_owed(kind: str, valid: bool | None) -> bool:
    """DOMAIN: every repair, and every valid complaint (one not judged invalid), gets a return visit."""
    return kind == "repair" or (kind == "complaint" and valid is not False)


def check(facts: TicketFacts, move: Move, now: dt.datetime, clock_trusted: bool = True) -> TicketFacts:
    """Raise Refused naming the first rule the move breaks; otherwise return the facts after it.

    `clock_trusted` is False while this gateway's clock is unsynchronised: central's agreed
    next-reply time is then not judged against a local time that may be hours off.
    """
    no = facts.ticket_no
    target = move.status or facts.status
    if facts.status == "closed" and move.changes_anything and replace(move, status=None).changes_anything:
        raise Refused("closed_is_final", no, f"cannot move from closed to {target}; allowed next: none (the ticket "
                                             f"is closed)")
    if target != facts.status and target not in TRANSITIONS[facts.status]:
        allowed = ", ".join(TRANSITIONS[facts.status]) or "none (the ticket is closed)"
        raise Refused("transition_allowed", no, f"cannot move from {facts.status} to {target}; allowed next: {allowed}")
    if move.valid is not None and facts.kind != "complaint":
        raise Refused("verdict_complaints_only", no, f"it is a {facts.kind}, not a complaint")
    valid = facts.complaint_valid if move.valid is None else move.valid
    after = replace(facts, status=target, complaint_valid=valid,
                    return_visit_done=facts.return_visit_done or target == "return_visit_done",
                    exemption=facts.exemption or move.exemption)
    if move.exemption is not None:
        if move.exemption not in EXEMPTIONS or not after.return_visit_required or after.return_visit_done \
                or (move.exemption == "anonymous" and facts.has_contact):
            raise Refused("exemption_reason", no)
    if target == "closed" and facts.status != "closed" and after.owes_return_visit:
        raise Refused("return_visit_before_close", no)
    if move.next_reply_by is not None and target == "closed":
        raise Refused("next_reply_open_ticket", no)
    if move.next_reply_by is not None and clock_trusted and move.next_reply_by <= now:
        raise Refused("next_reply_in_future", no)
    settled = target in SETTLED or valid is False
    if facts.kind == "complaint" and move.reply and not settled and move.next_reply_by is None:
        raise Refused("next_reply_agreed", no)
    return after
