"""The forms a person fills in at the screen, and the order of their steps (no Kivy).

A draft holds only what was typed or chosen; the services validate it
(`visitors.validate`, `tickets.create`) and say which field is wrong. On idle
timeout or "home" the drafts are dropped (the app makes new ones) after their
text fields were overwritten, so no half-filled form stays in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from lobby.services import CheckInForm, TicketForm
from lobby.services.tickets import URGENT_KINDS


def _scrub(obj: Any) -> None:
    """Overwrite every attribute of a draft before it is dropped."""
    for f in fields(obj):
        setattr(obj, f.name, None)


@dataclass
class CheckInDraft:
    name: str | None = None
    phone: str | None = None
    host_id: str | None = None
    host_label: str | None = None
    purpose: str | None = None
    party_size: int = 1
    company: str | None = None
    permit_no: str | None = None
    consent: bool = False
    invitation: Any = None  # InvitationView when checking in with a code
    visit_id: str | None = None  # after the check-in: the visit (for the pass and host status)

    def form(self) -> CheckInForm:
        return CheckInForm(name=self.name, phone=self.phone, host_id=self.host_id, purpose=self.purpose,
                           party_size=self.party_size, company=self.company or None,
                           permit_no=self.permit_no or None, consent=self.consent)

    def steps(self) -> list[str]:
        """A walk-in's questions. The party size is asked on the purpose screen; the company (optional)
        only of contractors, with their work permit."""
        out = ["ci_name", "ci_phone", "ci_host", "ci_purpose"]
        if self.purpose == "contractor":
            out += ["ci_company", "ci_permit"]
        return out + ["ci_consent", "ci_confirm"]

    def invitation_steps(self) -> list[str]:
        """With an invitation code: the code, its details read back, [the permit], consent."""
        inv = self.invitation
        out = ["ci_code", "ci_invite"]
        if inv is not None and getattr(inv, "needs_permit", False):
            out.append("ci_permit")
        return out + ["ci_consent"]

    def scrub(self) -> None:
        _scrub(self)


CHECKIN_FIELD_STEPS = {"name": "ci_name", "phone": "ci_phone", "host_id": "ci_host", "purpose": "ci_purpose",
                       "party_size": "ci_purpose", "company": "ci_company", "permit_no": "ci_permit",
                       "consent": "ci_consent"}


@dataclass
class TicketDraft:
    kind: str | None = None
    category: str | None = None
    building: str | None = None
    floor: str | None = None
    area: str | None = None
    description: str | None = None
    urgent: bool = False
    contact_name: str | None = None
    contact_phone: str | None = None
    ticket_no: str | None = None

    def form(self) -> TicketForm:
        return TicketForm(kind=self.kind, category=self.category, description=self.description,
                          building=self.building, floor=self.floor, area=self.area,
                          urgent=bool(self.urgent) if self.kind in URGENT_KINDS else False,
                          contact_name=self.contact_name or None, contact_phone=self.contact_phone or None)

    def steps(self) -> list[str]:
        out = ["tk_kind", "tk_category", "tk_place", "tk_desc"]
        if self.kind in URGENT_KINDS:
            out.append("tk_urgent")
        return out + ["tk_contact_name", "tk_contact_phone", "tk_confirm"]

    def scrub(self) -> None:
        _scrub(self)


TICKET_FIELD_STEPS = {"kind": "tk_kind", "category": "tk_category", "building": "tk_place", "floor": "tk_place",
                      "area": "tk_place", "description": "tk_desc", "urgent": "tk_urgent",
                      "contact_name": "tk_contact_name", "contact_phone": "tk_contact_phone"}


@dataclass
class Drafts:
    """All forms in progress; `wipe()` scrubs them and starts fresh ones."""

    checkin: CheckInDraft = field(default_factory=CheckInDraft)
    ticket: TicketDraft = field(default_factory=TicketDraft)
    feedback_press: str | None = None
    checkout_choices: list[Any] = field(default_factory=list)

    def wipe(self) -> None:
        self.checkin.scrub()
        self.ticket.scrub()
        self.checkin = CheckInDraft()
        self.ticket = TicketDraft()
        self.feedback_press = None
        self.checkout_choices.clear()
        self.checkout_choices = []


def next_step(steps: list[str], current: str) -> str:
    i = steps.index(current) if current in steps else -1
    return steps[min(i + 1, len(steps) - 1)]
