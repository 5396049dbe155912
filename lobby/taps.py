"""Where a card tapped at the kiosk goes (plain Python, no Kivy; runs on a worker thread).

Looked up in this order:
1. a guard card or a checkpoint tag: the patrol engine's scan (point n of m, next point ...);
2. a staff card (cards table, keyed hash, role staff): the staff screen;
3. while the check-in screen waits for a pass card: link that card to the visit;
4. a linked visitor pass card: check-out;
5. otherwise: "card not recognised" (logged without the UID or any personal data).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from lobby.services import LobbyServices, Message, Outcome
from lobby.services.messages import CARD_UNKNOWN, TAP_FAILED
from lobby.services.cards import staff_card
from mqtt_bridge.store import StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TapResult:
    route: str  # patrol, staff, link, checkout, unknown, error
    ok: bool
    message: Message
    patrol: Any = None  # lobby.patrol.ScanResult
    outcome: Outcome[Any] | None = None
    staff_id: str | None = None
    reader_id: str = ""


def _unknown() -> Message:
    return CARD_UNKNOWN


def _error() -> Message:
    return TAP_FAILED


class CardRouter:
    def __init__(self, services: LobbyServices, patrol: Any = None) -> None:
        self.services = services
        self.patrol = patrol

    def route(self, uid: str, reader_id: str, link_visit_id: str | None = None) -> TapResult:
        try:
            return self._route(uid, reader_id, link_visit_id)
        except StoreError as exc:
            log.error("card tap on %s not processed: store %s", reader_id, type(exc).__name__)
            return TapResult("error", False, _error(), reader_id=reader_id)

    def _route(self, uid: str, reader_id: str, link_visit_id: str | None) -> TapResult:
        if self.patrol is not None:
            try:
                role = self.patrol.card_role(uid)
            except ValueError:
                role = None
            if role is not None:
                result = self.patrol.scan(uid, reader_id, source="kiosk")
                return TapResult("patrol", bool(result.ok), Message(f"patrol.{result.status}", result.message_zh,
                                                                    result.message_en), patrol=result,
                                 reader_id=reader_id)
        staff = staff_card(self.services.ctx, uid)
        if staff is not None:
            log.info("card tap on %s: staff card", reader_id)
            return TapResult("staff", True, Message("staff", "", ""), staff_id=staff.holder_id or "staff",
                             reader_id=reader_id)
        if link_visit_id is not None:
            outcome = self.services.link_card(link_visit_id, uid)
            return TapResult("link", outcome.ok, outcome.message, outcome=outcome, reader_id=reader_id)
        outcome = self.services.visitors.check_out_by_card(uid)
        if outcome.status in ("checked_out", "already_out", "visit_not_active"):
            return TapResult("checkout", outcome.ok, outcome.message, outcome=outcome, reader_id=reader_id)
        if outcome.status == "store_error":
            return TapResult("error", False, outcome.message, outcome=outcome, reader_id=reader_id)
        log.info("card tap on %s: not recognised", reader_id)
        return TapResult("unknown", False, _unknown(), reader_id=reader_id)
