"""Central's lobby commands, applied directly in the command intake's transaction.

`lobby_specs(ctx)` returns CommandSpecs that replace the queued defaults of
ticket.update, visitor.host_ack, evacuation.start and evacuation.end, and add
visitor.invite and survey.result. Each handler changes the store and writes its events inside the
intake's transaction (so the command is applied and recorded, or neither) and
raises CommandRejected with a plain message for unknown tickets or visits and
impossible changes. Messages carry ids only, never personal data, because the
intake logs them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lobby.commands.context import CommandContext
from mqtt_bridge.commands import CommandSpec
from mqtt_bridge.store import Transaction

from mqtt_bridge.clock import Clock
from lobby.services.context import ServiceContext
from lobby.services.invitations import InvitationService
from lobby.services.rollcall import RollCallService
from lobby.services.surveys import SurveyService
from lobby.services.tickets import TicketService
from lobby.services.visitors import VisitorService

Handler = Callable[[Transaction, dict[str, Any]], dict[str, Any]]


class _Lazy:
    """The services behind the handlers, built on the first command (not when specs are listed)."""

    def __init__(self, ctx: CommandContext, clock: Clock | None) -> None:
        self._ctx = ctx
        self._clock = clock
        self._built: tuple[VisitorService, InvitationService, TicketService, RollCallService, SurveyService] | None = None

    def get(self) -> tuple[VisitorService, InvitationService, TicketService, RollCallService, SurveyService]:
        if self._built is None:
            ctx = self._ctx
            services = ServiceContext(ctx.alerts.store, ctx.cfg, ctx.card_key, self._clock or Clock(), ctx.alerts)
            visitors = VisitorService(services)
            self._built = (visitors, InvitationService(services, visitors), TicketService(services),
                           RollCallService(services), SurveyService(services))
        return self._built


def lobby_specs(ctx: CommandContext, clock: Clock | None = None) -> dict[str, CommandSpec]:
    """The lobby's command handlers, to merge into the runtime's specs."""
    lazy = _Lazy(ctx, clock)

    def ticket_update(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
        return lazy.get()[2].apply_update_tx(tx, data)

    def host_ack(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
        return lazy.get()[0].apply_host_ack(tx, data)

    def invite(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
        return lazy.get()[1].receive_tx(tx, data)

    def evacuation_start(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
        return lazy.get()[3].command_start(tx, data)

    def evacuation_end(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
        return lazy.get()[3].command_end(tx, data)

    def survey_result(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
        return lazy.get()[4].receive_tx(tx, data)

    return {
        "ticket.update": CommandSpec(ticket_update),
        "survey.result": CommandSpec(survey_result),
        "visitor.host_ack": CommandSpec(host_ack),
        "visitor.invite": CommandSpec(invite),
        "evacuation.start": CommandSpec(evacuation_start),
        "evacuation.end": CommandSpec(evacuation_end),
    }
