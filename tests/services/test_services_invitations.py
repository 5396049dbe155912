"""Pre-registration: visitor.invite from central, code or QR at the kiosk, confirm only."""

from __future__ import annotations

import datetime as dt

import pytest

from lobby.services import LobbyServices
from lobby.commands import lobby_specs
from mqtt_bridge import schemas
from mqtt_bridge.alerts import AlertEngine
from lobby.commands import CommandContext
from mqtt_bridge.commands import CommandIntake
from tests.services.services_helpers import command, events

INVITE = {"invite_id": "inv-1", "code": "24681012", "qr_token": "Qr-Token_0123456789abcdef",
          "visitor_name": " 陈静 ", "visitor_phone": "+86 139 0000 1111", "visitor_company": "上海某律师事务所",
          "host_id": "h-1203", "purpose": "meeting", "party_size": 2,
          "valid_from": "2026-11-25T09:00:00+08:00", "valid_until": "2026-11-25T18:00:00+08:00"}


@pytest.fixture
def intake(services: LobbyServices) -> CommandIntake:
    store = services.ctx.store
    ctx = CommandContext(services.ctx.cfg, None, AlertEngine(store), services.ctx.card_key)
    return CommandIntake(store, lobby_specs(ctx, services.ctx.clock), 65536)


def test_schema_requires_a_code_or_token_and_the_visitor() -> None:
    assert schemas.first_error("commands/visitor.invite.json", INVITE) is None
    no_code = {k: v for k, v in INVITE.items() if k not in ("code", "qr_token")}
    assert schemas.first_error("commands/visitor.invite.json", no_code) == "(top level): needs at least one of: code, qr_token"
    assert schemas.first_error("commands/visitor.invite.json", {**INVITE, "code": "12345"})
    assert schemas.first_error("commands/visitor.invite.json", {"invite_id": "inv-1", "cancelled": True}) is None
    assert "visitor_name" in schemas.first_error("commands/visitor.invite.json", {"invite_id": "x", "code": "12345678"})


def test_invited_visitor_types_the_code_and_only_confirms(services: LobbyServices, intake: CommandIntake) -> None:
    result = command(intake, "visitor.invite", INVITE, cmd_id="inv-cmd-1")
    assert result["ok"] and result["result"]["state"] == "open"
    found = services.invitations.find("2468 1012")
    assert found.ok and found.status == "found"
    view = found.value
    assert (view.name, view.masked_phone, view.host.unit, view.party_size) == ("陈静", "139****1111", "12F-1203", 2)
    assert view.valid_until == dt.datetime(2026, 11, 25, 18, 0, tzinfo=view.valid_until.tzinfo)
    outcome = services.invitations.confirm(view.invitation_id, consent=True)
    assert outcome.ok and outcome.status == "checked_in" and outcome.value.invitation_id == "inv-1"
    (event,) = events(services.ctx.store, "visitor.checked_in")
    assert event["invitation_id"] == "inv-1" and event["visitor_name"] == "陈静" and event["party_size"] == 2
    used = services.invitations.find("24681012")
    assert not used.ok and used.status == "used" and "已经使用" in used.message.zh
    assert services.invitations.confirm("inv-1", consent=True).status == "used"


def test_qr_token_scan_and_consent(services: LobbyServices, intake: CommandIntake) -> None:
    command(intake, "visitor.invite", INVITE)
    found = services.invitations.find("QR-TOKEN_0123456789ABCDEF\r\n")  # a scanner types it, maybe upper-cased
    assert found.ok
    refused = services.invitations.confirm(found.value.invitation_id, consent=False)
    assert refused.status == "invalid" and refused.error_for("consent").code == "consent_required"
    assert services.invitations.confirm(found.value.invitation_id, consent=True).ok


def test_expired_not_yet_valid_cancelled_and_unknown(services: LobbyServices, intake: CommandIntake, clock) -> None:  # noqa: ANN001
    command(intake, "visitor.invite", INVITE)
    command(intake, "visitor.invite", {**INVITE, "invite_id": "inv-2", "code": "13579024", "qr_token": "Second_token_00000000",
                                       "valid_from": "2026-11-26T14:00:00+08:00", "valid_until": "2026-11-26T18:00:00+08:00"})
    early = services.invitations.find("13579024")
    assert early.status == "not_yet" and "11月26日 14:00" in early.message.zh and "2026-11-26 14:00" in early.message.en
    clock.set_wall(dt.datetime(2026, 11, 26, 13, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    assert services.invitations.find("13579024").ok  # invitation_early_min = 60
    expired = services.invitations.find("24681012")
    assert not expired.ok and expired.status == "expired"
    assert "已于11月25日 18:00过期" in expired.message.zh and "expired on 2026-11-25 at 18:00" in expired.message.en
    assert services.invitations.confirm("inv-1", consent=True).status == "expired"
    assert command(intake, "visitor.invite", {"invite_id": "inv-2", "cancelled": True})["result"]["state"] == "cancelled"
    assert services.invitations.find("13579024").status == "cancelled"
    assert services.invitations.find("00000000").status == "unknown_code"
    assert command(intake, "visitor.invite", {"invite_id": "nope", "cancelled": True})["ok"] is False


def test_wrong_codes_are_rate_limited(services: LobbyServices, intake: CommandIntake, clock) -> None:  # noqa: ANN001
    command(intake, "visitor.invite", INVITE)
    for code in ("111111", "222222", "333333", "444444", "555555"):
        assert services.invitations.find(code).status == "unknown_code"
    locked = services.invitations.find("24681012")  # even the right code waits
    assert locked.status == "rate_limited" and locked.message.zh.startswith("对不起")
    clock.advance(minutes=5)
    assert services.invitations.find("24681012").ok


def test_rejected_invitations(services: LobbyServices, intake: CommandIntake) -> None:
    cases = [
        ({"host_id": "h-nobody"}, "unknown host id 'h-nobody'"),
        ({"visitor_phone": "12345"}, "visitor_phone: Sorry, that mobile number doesn't look right"),
        ({"visitor_name": "\u202eevil"}, "visitor_name: Sorry, the name contains an invisible formatting character"),
        ({"valid_until": "2026-11-25T08:00:00+08:00"}, "valid_until must be later than valid_from"),
        ({"valid_from": "2026-11-24T08:00:00+08:00", "valid_until": "2026-11-24T09:00:00+08:00"}, "already expired"),
        ({"party_size": 50}, "more than visitors.max_party_size (20)"),
    ]
    for changes, error in cases:
        result = command(intake, "visitor.invite", {**INVITE, **changes})
        assert result["ok"] is False and error in result["error"], (changes, result)
        assert "陈静" not in result["error"] and "1390000" not in result["error"]
    assert services.ctx.store.scalar("SELECT count(*) FROM invitations") == 0
    assert command(intake, "visitor.invite", INVITE)["ok"]
    clash = command(intake, "visitor.invite", {**INVITE, "invite_id": "inv-9", "qr_token": "another_token_000000"})
    assert clash["ok"] is False and "code: already used by another open invitation" in clash["error"]
    assert "24681012" not in clash["error"]  # issue #13: the code itself is never echoed


def test_contractor_invitation_asks_for_the_permit(services: LobbyServices, intake: CommandIntake) -> None:
    command(intake, "visitor.invite", {**INVITE, "purpose": "contractor"})
    view = services.invitations.find("24681012").value
    assert view.needs_permit
    missing = services.invitations.confirm(view.invitation_id, consent=True)
    assert missing.error_for("permit_no").code == "required"
    assert services.invitations.confirm(view.invitation_id, consent=True, permit_no="SG-77").ok


def test_default_validity_comes_from_the_config(services: LobbyServices, intake: CommandIntake) -> None:
    data = {k: v for k, v in INVITE.items() if k != "valid_until"}
    assert command(intake, "visitor.invite", data)["result"]["valid_until"] == "2026-11-26T01:00:00.000Z"
