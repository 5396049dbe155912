"""What a person sees of a ticket: its status, replies, clocks and the promise in words.

A deadline taken while the wall clock was unsynchronised is *provisional*: it is shown and
printed as a duration ("2小时内 / within 2 hours"), never as a time of day that may be
hours off; once the clock syncs and the deadline is re-anchored it is shown as a time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from lobby.services.messages import Message
from lobby.services.sla import duration_text

KINDS: dict[str, tuple[str, str]] = {
    "complaint": ("投诉", "complaint"),
    "repair": ("报修", "repair request"),
    "suggestion": ("建议", "suggestion"),
    "praise": ("表扬", "compliment"),
    "enquiry": ("咨询", "enquiry"),
    "incident": ("报事", "incident report"),
}
STATUSES: dict[str, tuple[str, str]] = {
    "received": ("已受理", "Received"),
    "assigned": ("已派单", "Assigned to staff"),
    "on_site": ("处理中（已到场）", "Staff on site"),
    "done": ("已完成", "Done"),
    "return_visit_done": ("已回访", "Follow-up call made"),
    "closed": ("已办结", "Closed"),
}


@dataclass(frozen=True)
class Reply:
    text: str
    at: dt.datetime  # site-local


@dataclass(frozen=True)
class ClockView:
    clock: str
    label_zh: str
    label_en: str
    due: dt.datetime  # site-local; provisional while `provisional`
    state: str  # running / met / cancelled
    overdue: bool
    provisional: bool = False  # started on an unsynchronised clock and not yet re-anchored
    within_s: float = 0.0  # its length from the start
    level: int = 0  # escalation level reached (0: not overdue)
    estimated: bool = False  # counted over working days the calendar could only estimate

    def due_text(self) -> tuple[str, str]:
        """"回访：11月27日 11:30前" / "Return visit: by 2026-11-27 11:30", or a duration when provisional."""
        if self.provisional:
            zh, en = duration_text(self.within_s)
            return f"{self.label_zh}：{zh}内", f"{self.label_en[:1].upper()}{self.label_en[1:]}: within {en}"
        note_zh, note_en = ("（按估算日历）", " (estimated calendar)") if self.estimated else ("", "")
        return (f"{self.label_zh}：{self.due:%m月%d日 %H:%M}前{note_zh}",
                f"{self.label_en[:1].upper()}{self.label_en[1:]}: by {self.due:%Y-%m-%d %H:%M}{note_en}")


@dataclass(frozen=True)
class TicketView:
    ticket_no: str
    kind: str
    kind_zh: str
    kind_en: str
    category: str
    category_zh: str
    category_en: str
    place: str
    description: str
    urgent: bool
    status: str
    status_zh: str
    status_en: str
    created: dt.datetime  # site-local
    replies: list[Reply]
    clocks: list[ClockView]
    promise: Message


def promise(ticket: dict[str, Any], clocks: list[ClockView], svc: Any) -> Message:
    """The promise in words, from the same numbers as the clocks (bilingual).

    `svc` is the [service] section. A same-day completion is promised as a time of day only
    when the clock was synchronised; otherwise every promise is a duration.
    """
    kind, number = ticket["kind"], ticket["ticket_no"]
    kind_zh, kind_en = KINDS[kind]
    zh_parts, en_parts = [], []
    due = {c.clock: c for c in clocks}
    if "on_site" in due:
        zh, en = duration_text(due["on_site"].within_s)
        zh_parts.append(f"工作人员将在{zh}内到场。")
        en_parts.append(f"Staff will be on site within {en}.")
    if "completion" in due:
        c = due["completion"]
        if not c.provisional and c.within_s < svc.repair_complete_h * 3600 - 60:
            zh_parts.append(f"维修将于今天{c.due:%H:%M}前完成（不过夜）。")
            en_parts.append(f"The repair will be finished today by {c.due:%H:%M}.")
        else:
            zh, en = duration_text(svc.repair_complete_h * 3600)
            zh_parts.append(f"维修将在{zh}内完成。")
            en_parts.append(f"The repair will be finished within {en}.")
    if "first_reply" in due:
        zh, en = duration_text(due["first_reply"].within_s)
        zh_parts.append(f"我们将在{zh}内答复您。")
        en_parts.append(f"We will reply to you within {en}.")
    return Message("created", f"您好，您的{kind_zh}已登记，单号 {number}。{''.join(zh_parts)}谢谢您的反馈！",
                   f"Hello, your {kind_en} has been recorded as number {number}. {' '.join(en_parts)} "
                   f"Thank you for telling us.")
