"""The lobby's services as plain Python: every rule the touchscreen follows lives here.

No Kivy here: the kiosk screens only draw what these return. Build one
LobbyServices per process:

    services = LobbyServices(store, cfg, card_key=load_key(cfg.state_dir), printer=badge_printer)
    outcome = services.visitors.check_in(CheckInForm(name=..., phone=..., host_id=..., ...))
    if outcome.ok: show(outcome.message.zh, outcome.message.en)
    else: for e in outcome.errors: mark(e.field, e.zh, e.en)

Every action that a person triggers returns an Outcome (ok, status,
message in Chinese and English, value, field errors) and never raises for
input; it writes its records and its event in one store transaction and returns
after the commit. The gateway calls `every_minute()` and `daily()`.
"""

from __future__ import annotations

from typing import Any

from mqtt_bridge.alerts import AlertEngine
from lobby.config import Config
from mqtt_bridge.store import Store

from mqtt_bridge.clock import Clock, Instant, ManualClock
from lobby.services.context import ServiceContext
from lobby.services.export import Exporter
from lobby.services.feedback import FACES, FeedbackService, PressResult, Satisfaction
from lobby.services.greeting import check_waiting
from lobby.services.hosts import Host, search_hosts
from lobby.services.invitations import InvitationService, InvitationView
from lobby.services.messages import FieldError, Message, Outcome
from lobby.services.privacy import PrivacyService, PurgeReport
from lobby.services.rollcall import Headcount, RollCallService, RollCallView
from lobby.services.escalation import CheckReport
from lobby.services.calendar_watch import check_calendar
from lobby.services.surveys import SurveyService
from lobby.services.tickets import KINDS, STATUSES, TicketForm, TicketService, TicketView
from lobby.services.visitors import PURPOSES, CheckInDetails, CheckInForm, VisitChoice, VisitorService, VisitView


class LobbyServices:
    def __init__(self, store: Store, cfg: Config, *, card_key: bytes, clock: Clock | None = None,
                 printer: Any = None, alerts: AlertEngine | None = None) -> None:
        self.ctx = ServiceContext(store, cfg, card_key, clock or Clock(), alerts, printer)
        self.visitors = VisitorService(self.ctx)
        self.invitations = InvitationService(self.ctx, self.visitors)
        self.rollcall = RollCallService(self.ctx)
        self.tickets = TicketService(self.ctx)
        self.feedback = FeedbackService(self.ctx)
        self.surveys = SurveyService(self.ctx)
        self.privacy = PrivacyService(self.ctx)
        self.exporter = Exporter(self.ctx)

    def hosts(self, query: str = "") -> list[Host]:
        return search_hosts(self.ctx.store, query)

    def print_badge(self, visit_id: str) -> Outcome[Any]:
        from lobby.services.passes import print_badge

        return print_badge(self.ctx, visit_id)

    def link_card(self, visit_id: str, uid: str) -> Outcome[str]:
        from lobby.services.passes import link_card

        return link_card(self.ctx, visit_id, uid)

    # -------------------------------------------------------------- for the gateway's timers

    def every_minute(self, now: Instant | None = None) -> dict[str, Any]:
        """SLA clocks (re-anchoring, overdue alerts, escalation), the calendar's coverage and the
        unreturned-pass alert (idempotent)."""
        now = self.ctx.now(now)
        report = self.tickets.check_overdue(now)
        check_calendar(self.ctx, now)
        unreturned = self.visitors.check_unreturned_passes(now)
        waiting = check_waiting(self.ctx, now)
        return {"sla": report, "unreturned_passes": unreturned, "waiting": waiting}

    def daily(self, now: Instant | None = None) -> dict[str, Any]:
        """Publish finished satisfaction periods and purge expired personal data (idempotent)."""
        now = self.ctx.now(now)
        return {"satisfaction": self.feedback.publish_periods(now), "purge": self.privacy.purge(now)}


__all__ = [
    "FACES", "KINDS", "PURPOSES", "STATUSES", "CheckInDetails", "CheckInForm", "CheckReport", "Clock", "FieldError",
    "FeedbackService", "Headcount", "Host", "Instant", "InvitationService", "InvitationView", "LobbyServices",
    "ManualClock", "Message", "Outcome", "PressResult", "PrivacyService", "PurgeReport", "RollCallService",
    "RollCallView", "Satisfaction", "TicketForm", "TicketService", "TicketView", "VisitChoice", "VisitView",
    "VisitorService",
]
