"""Pre-registered visitors: central's visitor.invite, then the visitor only confirms.

Central sends an invitation (visitor.invite) with an 8-digit code and/or a QR
token. At the kiosk the visitor types the code or scans the QR (a USB scanner
types the token), sees their details read back, consents and confirms. Wrong
codes are counted in the store and slow further tries (lobby.services.guessing).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from mqtt_bridge.commands.intake import CommandRejected, command_time
from mqtt_bridge.store import StoreError, Transaction
from mqtt_bridge.timebase import rfc3339

from mqtt_bridge.clock import Instant, parse_ts
from lobby.services.context import ServiceContext, row, store_failure
from lobby.services.hosts import Host, get_host
from lobby.services.messages import CHECK_FORM, Message, Outcome, ValidationFailed, please_wait
from lobby.services.phone import mask_phone, normalise_phone
from lobby.services.text import clean_code, clean_company, clean_name
from lobby.services.visitors import PURPOSES, CheckInForm, VisitorService, VisitView, validate_form

log = logging.getLogger(__name__)

CODE_DIGITS = r"\d{8}"  # 10^8 codes: docs/SECURITY.md works out the time to guess a live one

UNKNOWN_CODE = Message("unknown_code", "对不起，没有找到这个邀请码。请核对后重新输入，或选择普通登记。",
                       "Sorry, we could not find this invitation code. Please check it and try again, "
                       "or register as a walk-in visitor.")
USED = Message("used", "此邀请码已经使用过。如需再次来访，请联系被访人重新邀请，或选择普通登记。",
               "This invitation has already been used. Please ask your host for a new one, "
               "or register as a walk-in visitor.")
CANCELLED = Message("cancelled", "对不起，此邀请已被取消。请联系被访人，或选择普通登记。",
                    "Sorry, this invitation has been cancelled. Please contact your host, "
                    "or register as a walk-in visitor.")


def _expired(until: dt.datetime) -> Message:
    return Message("expired", f"对不起，此邀请已于{until:%m月%d日 %H:%M}过期。请联系被访人重新邀请，或选择普通登记。",
                   f"Sorry, this invitation expired on {until:%Y-%m-%d at %H:%M}. Please ask your host for a new "
                   f"one, or register as a walk-in visitor.")


def _not_yet(start: dt.datetime) -> Message:
    return Message("not_yet", f"您好，此邀请从{start:%m月%d日 %H:%M}起有效，请届时再来，或选择普通登记。",
                   f"Hello, this invitation is valid from {start:%Y-%m-%d %H:%M}. Please come back then, "
                   f"or register as a walk-in visitor.")


@dataclass(frozen=True)
class InvitationView:
    """What the visitor confirms: their own details read back."""

    invitation_id: str
    name: str
    masked_phone: str
    company: str | None
    host: Host
    purpose: str
    purpose_zh: str
    purpose_en: str
    party_size: int
    valid_until: dt.datetime  # site-local
    needs_permit: bool  # contractor without a permit number: the confirm screen asks for it


def normalise_token(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > 200:
        return None
    text = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", value)).upper()
    return text if re.fullmatch(r"[0-9A-Z_]{6,64}", text) else None


def _reject(field: str, exc: ValidationFailed) -> CommandRejected:
    return CommandRejected(f"{field}: {exc.errors[0].en}")


class InvitationService:
    def __init__(self, ctx: ServiceContext, visitors: VisitorService) -> None:
        self.ctx = ctx
        self.visitors = visitors
        cfg = ctx.cfg.visitors
        self.limiter = ctx.guesses("invitation_code", cfg.code_max_failures, cfg.code_failure_window_min,
                                   cfg.code_delay_max_s)

    # -------------------------------------------------------------- from central

    def receive_tx(self, tx: Transaction, data: dict[str, Any], command_id: str | None = None,
                   now: Instant | None = None) -> dict[str, Any]:
        """Apply a visitor.invite command in the intake's transaction (CommandRejected if it cannot be)."""
        now = self.ctx.now(now)
        invite_id = data["invite_id"]
        existing = row(tx, "SELECT state FROM invitations WHERE id = ?", (invite_id,))
        if data.get("cancelled"):
            if existing is None:
                raise CommandRejected(f"there is no invitation with id {invite_id!r} to cancel")
            if existing["state"] == "used":
                raise CommandRejected(f"invitation {invite_id!r} has already been used and cannot be cancelled")
            tx.execute("UPDATE invitations SET state = 'cancelled' WHERE id = ?", (invite_id,))
            return {"invite_id": invite_id, "state": "cancelled"}
        if existing is not None and existing["state"] == "used":
            raise CommandRejected(f"invitation {invite_id!r} has already been used")

        cfg = self.ctx.cfg.visitors
        try:
            name = clean_name(data.get("visitor_name"), max_len=cfg.name_max_len)
        except ValidationFailed as exc:
            raise _reject("visitor_name", exc) from None
        try:
            phone = normalise_phone(data.get("visitor_phone"), required=False)
        except ValidationFailed as exc:
            raise _reject("visitor_phone", exc) from None
        try:
            company = clean_company(data.get("visitor_company"), max_len=cfg.company_max_len)
        except ValidationFailed as exc:
            raise _reject("visitor_company", exc) from None
        try:
            permit = clean_code(data.get("permit_no"), max_len=cfg.permit_max_len)
        except ValidationFailed as exc:
            raise _reject("permit_no", exc) from None
        if get_host(tx, data["host_id"]) is None:
            raise CommandRejected(f"unknown host id {data['host_id']!r} (not in the directory; send directory.update first)")
        party = data.get("party_size", 1)
        if party > cfg.max_party_size:
            raise CommandRejected(f"party_size {party} is more than visitors.max_party_size ({cfg.max_party_size})")
        valid_from = command_time(data["valid_from"], "valid_from")
        valid_until = (command_time(data["valid_until"], "valid_until") if data.get("valid_until")
                       else valid_from + dt.timedelta(hours=cfg.invitation_valid_h))
        if valid_until <= valid_from:
            raise CommandRejected("valid_until must be later than valid_from")
        if valid_until <= now.wall:
            raise CommandRejected("the invitation has already expired (valid_until is in the past)")
        code = data.get("code")
        token = normalise_token(data["qr_token"]) if data.get("qr_token") else None
        if data.get("qr_token") and token is None:
            raise CommandRejected("qr_token must be 16-64 letters, digits, '_' or '-'")
        if code is not None:
            self._room_for_a_code(tx, invite_id, valid_from, valid_until)
            clash = row(tx, "SELECT id, valid_until FROM invitations WHERE code = ? AND state = 'open' AND id != ?",
                        (code, invite_id))
            if clash is not None:
                if parse_ts(clash["valid_until"]) <= now.wall:
                    tx.execute("UPDATE invitations SET state = 'expired' WHERE id = ?", (clash["id"],))
                else:
                    raise CommandRejected("code: already used by another open invitation; choose another code")
        if token is not None and tx.execute("SELECT 1 FROM invitations WHERE qr_token = ? AND id != ?",
                                            (token, invite_id)).fetchone():
            raise CommandRejected("qr_token is already used by another invitation")
        tx.execute(
            "INSERT INTO invitations (id, code, qr_token, name, phone, company, permit_no, host_id, purpose, party_size, "
            "valid_from, valid_until, state, received_ts, command_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET code=excluded.code, qr_token=excluded.qr_token, name=excluded.name, "
            "phone=excluded.phone, company=excluded.company, permit_no=excluded.permit_no, host_id=excluded.host_id, "
            "purpose=excluded.purpose, party_size=excluded.party_size, valid_from=excluded.valid_from, "
            "valid_until=excluded.valid_until, state='open', command_id=excluded.command_id",
            (invite_id, code, token, name, phone, company, permit, data["host_id"], data["purpose"], party,
             rfc3339(valid_from), rfc3339(valid_until), now.ts, command_id))
        return {"invite_id": invite_id, "state": "open", "valid_until": rfc3339(valid_until)}

    def _room_for_a_code(self, tx: Transaction, invite_id: str, valid_from: dt.datetime,
                         valid_until: dt.datetime) -> None:
        """At most visitors.max_live_codes codes are live at any moment: each live code is a target for
        guessing, and docs/SECURITY.md's year-long guessing time assumes this bound. Counted over the
        invitations whose validity overlaps this one's; QR tokens are not counted."""
        limit = self.ctx.cfg.visitors.max_live_codes
        early = dt.timedelta(minutes=self.ctx.cfg.visitors.invitation_early_min)
        live = tx.execute("SELECT count(*) FROM invitations WHERE code IS NOT NULL AND state = 'open' "
                          "AND valid_until > ? AND valid_from < ? AND id != ?",
                          (rfc3339(valid_from - early), rfc3339(valid_until + early), invite_id)).fetchone()[0]
        if live >= limit:
            raise CommandRejected(f"{live} invitations with a code are already open (visitors.max_live_codes is "
                                  f"{limit}); send this one with a qr_token only, or cancel an unused one")

    # -------------------------------------------------------------- at the kiosk

    def find(self, entered: object, now: Instant | None = None) -> Outcome[InvitationView]:
        """The visitor typed a code or scanned the QR: their invitation, or why not."""
        now = self.ctx.now(now)
        wait = self.limiter.wait_s(now)
        if wait is not None:
            return Outcome.failure("rate_limited", please_wait(wait))
        text = normalise_token(entered) if isinstance(entered, str) else None
        found = None
        if text is not None:
            column = "code" if re.fullmatch(CODE_DIGITS, text) else "qr_token"
            matches = self.ctx.store.query(
                f"SELECT * FROM invitations WHERE {column} = ? ORDER BY state = 'open' DESC, received_ts DESC LIMIT 1",
                (text,))
            found = matches[0] if matches else None
        if found is None:
            self.limiter.failed(now)
            return Outcome.failure("unknown_code", UNKNOWN_CODE)
        problem = self._problem(found, now)
        if problem is not None:
            return problem
        host = self.ctx.store.query("SELECT * FROM directory WHERE id = ?", (found["host_id"],))
        h = host[0] if host else {"unit": "", "company": "", "person": "", "floor": ""}
        zh, en = PURPOSES.get(found["purpose"], (found["purpose"], found["purpose"]))
        view = InvitationView(
            found["id"], found["name"] or "", mask_phone(found["phone"]), found["company"],
            Host(found["host_id"], h["unit"], h["company"], h["person"], h["floor"]), found["purpose"], zh, en,
            found["party_size"], self.ctx.local(found["valid_until"]),
            found["purpose"] == "contractor" and not found["permit_no"])
        return Outcome.success("found", Message("confirm", "您好，请核对以下预约信息，确认无误后提交。",
                                                "Hello, please check your invitation details and confirm."), view)

    def _problem(self, inv: dict[str, Any], now: Instant) -> Outcome[Any] | None:
        if inv["state"] == "used":
            return Outcome.failure("used", USED)
        if inv["state"] == "cancelled":
            return Outcome.failure("cancelled", CANCELLED)
        until = parse_ts(inv["valid_until"])
        if inv["state"] == "expired" or until <= now.wall:
            return Outcome.failure("expired", _expired(self.ctx.local(until)))
        start = parse_ts(inv["valid_from"])
        if now.wall < start - dt.timedelta(minutes=self.ctx.cfg.visitors.invitation_early_min):
            return Outcome.failure("not_yet", _not_yet(self.ctx.local(start)))
        return None

    def confirm(self, invitation_id: str, consent: bool, permit_no: str | None = None,
                party_size: int | str | None = None, now: Instant | None = None) -> Outcome[VisitView]:
        """The visitor confirmed: check in with the invitation's details in one transaction."""
        now = self.ctx.now(now)
        try:
            with self.ctx.store.transaction() as tx:
                inv = row(tx, "SELECT * FROM invitations WHERE id = ?", (invitation_id,))
                if inv is None:
                    return Outcome.failure("unknown_code", UNKNOWN_CODE)
                problem = self._problem(inv, now)
                if problem is not None:
                    return problem
                form = CheckInForm(name=inv["name"], phone=inv["phone"], company=inv["company"],
                                   host_id=inv["host_id"], purpose=inv["purpose"],
                                   party_size=inv["party_size"] if party_size is None else party_size,
                                   permit_no=inv["permit_no"] or permit_no, consent=consent)
                details = validate_form(self.ctx, tx, form)
                status, visit_id = self.visitors.check_in_tx(tx, details, now, invitation_id=invitation_id)
                tx.execute("UPDATE invitations SET state = 'used', used_ts = ?, visit_id = ? WHERE id = ?",
                           (now.ts, visit_id, invitation_id))
        except ValidationFailed as exc:
            return Outcome.failure("invalid", CHECK_FORM, exc.errors)
        except StoreError as exc:
            return store_failure(exc, "invitation check-in")
        return self.visitors.check_in_outcome(status, visit_id)
