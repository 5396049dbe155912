"""One small layout function per printed document, over the common renderer.

Wording is Chinese first with English beside, as on the touchscreen. Times are
printed in the building's local time: naive datetimes are taken as local,
aware ones are converted to *tz* (default: the system's zone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from drivers.printer.render import Block, QrBlock, RuleBlock, SpaceBlock, TextBlock


@dataclass(frozen=True)
class VisitorBadge:
    """A visitor pass (《访客出入证》)."""

    visitor_name: str
    pass_number: str
    valid_from: datetime
    valid_until: datetime
    host_company: str = ""
    host_unit: str = ""
    host_person: str = ""


@dataclass(frozen=True)
class TicketReceipt:
    """A receipt for a complaint / repair case: its number and the reply promise."""

    ticket_number: str
    promise_text: str   # e.g. "我们将在2小时内答复您 We will reply within 2 hours"
    deadline: datetime | None  # when the promised reply is due (None: the clock is unsynced, see `within`)
    kind_label: str = "服务单 Service ticket"
    within: str = ""  # e.g. "2小时内 within 2 hours": printed instead of a time the clock cannot vouch for


@dataclass(frozen=True)
class RollCallEntry:
    name: str
    detail: str = ""    # e.g. host unit or time in


@dataclass(frozen=True)
class RollCall:
    """The evacuation list: everyone not yet signed out."""

    entries: Sequence[RollCallEntry]
    printed_at: datetime
    title: str = "疏散点名 Roll call"
    site: str = ""
    notes: Sequence[str] = field(default_factory=tuple)


def badge_blocks(badge: VisitorBadge, tz: tzinfo | None = None) -> list[Block]:
    start, until = _local(badge.valid_from, tz), _local(badge.valid_until, tz)
    until_text = until.strftime("%H:%M") if until.date() == start.date() \
        else until.strftime("%Y-%m-%d %H:%M")
    host = " / ".join(part for part in (badge.host_company, badge.host_unit, badge.host_person)
                      if part.strip())
    return [
        TextBlock("访客出入证 VISITOR PASS", size=30, bold=True, align="center", name="title"),
        RuleBlock(),
        TextBlock(badge.visitor_name, size=56, bold=True, align="center", max_lines=2,
                  name="visitor_name"),
        SpaceBlock(8),
        TextBlock(f"被访 Host: {host or '-'}", size=26, max_lines=3, name="host"),
        TextBlock(f"日期 Date: {start:%Y-%m-%d}", size=26, name="date"),
        TextBlock(f"有效至 Valid until: {until_text}", size=26, bold=True, name="valid_until"),
        RuleBlock(),
        QrBlock(badge.pass_number, module_px=8, name="qr"),
        TextBlock(f"通行证号 Pass No. {badge.pass_number}", size=26, align="center",
                  max_lines=2, name="pass_number"),
        TextBlock("离开时请交还 Please return when leaving", size=20, align="center",
                  name="footer"),
    ]


def ticket_blocks(ticket: TicketReceipt, tz: tzinfo | None = None) -> list[Block]:
    if ticket.deadline is not None:
        deadline_text = f"答复时限 Reply by: {_local(ticket.deadline, tz):%Y-%m-%d %H:%M}"
    else:
        deadline_text = f"答复时限 Reply: {ticket.within}"
    return [
        TextBlock(ticket.kind_label, size=30, bold=True, align="center", name="title"),
        RuleBlock(),
        TextBlock("单号 No.", size=24, align="center"),
        TextBlock(ticket.ticket_number, size=48, bold=True, align="center", max_lines=2,
                  name="ticket_number"),
        SpaceBlock(8),
        TextBlock(ticket.promise_text, size=26, max_lines=6, name="promise"),
        TextBlock(deadline_text, size=26, bold=True,
                  max_lines=2, name="deadline"),
        RuleBlock(),
        QrBlock(ticket.ticket_number, module_px=8, name="qr"),
        TextBlock("谢谢您的反馈 Thank you for telling us", size=20, align="center",
                  name="footer"),
    ]


def roll_call_blocks(roll: RollCall, tz: tzinfo | None = None) -> list[Block]:
    printed = _local(roll.printed_at, tz)
    blocks: list[Block] = [
        TextBlock(roll.title, size=32, bold=True, align="center", name="title"),
    ]
    if roll.site:
        blocks.append(TextBlock(roll.site, size=24, align="center", name="site"))
    blocks += [
        TextBlock(f"打印时间 Printed: {printed:%Y-%m-%d %H:%M:%S}", size=22, name="printed_at"),
        TextBlock(f"在楼人数 People in building: {len(roll.entries)}", size=26, bold=True,
                  name="count"),
        RuleBlock(),
    ]
    for number, entry in enumerate(roll.entries, start=1):
        line = f"{number}. {entry.name}"
        if entry.detail.strip():
            line += f"  ({entry.detail})"
        blocks.append(TextBlock(f"□ {line}", size=26, name=f"entry{number}"))
    if not roll.entries:
        blocks.append(TextBlock("无 None", size=26, align="center", name="entry0"))
    blocks.append(RuleBlock())
    blocks += [TextBlock(note, size=22, max_lines=3) for note in roll.notes]
    return blocks


def _local(moment: datetime, tz: tzinfo | None) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(tz)
