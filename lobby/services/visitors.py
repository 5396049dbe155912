"""Visitors: check-in, the double-submission guard, check-out, staff approval, alerts.

Every action writes its records and its event in one store transaction and
returns only after the commit. What goes to central (visitor.* events):

- visitor.checked_in: visit id, host (id/unit/company/person, from the
  directory central itself sent), party size, purpose, pass number, valid
  until, check-in time, the phone masked (138****5678; full only when
  privacy.mask_phone_in_events = false), the visitor's name (so the host
  knows who is waiting; left out when privacy.name_in_events = false), the
  invitation id if any and the approving staff id if the check-in was held.
  Never: company, work permit number, card data.
- visitor.checked_out / held / denied / card_linked: ids, counts and method
  only, no name or phone.
"""

from __future__ import annotations

import datetime as dt
import logging
import unicodedata
from dataclasses import dataclass
from typing import Any, NamedTuple

from mqtt_bridge.alerts import Severity, alert_key
from mqtt_bridge.commands.intake import CommandRejected
from mqtt_bridge.store import StoreError, Transaction
from mqtt_bridge.store.ids import uuid7
from mqtt_bridge.timebase import rfc3339

from lobby.services import passes, watchlist
from mqtt_bridge.clock import Instant, parse_ts
from lobby.services.codes import read_code
from lobby.services.context import ServiceContext, row, rows, store_failure
from lobby.services.hosts import Host, get_host
from lobby.services.messages import CHECK_FORM, FieldError, Message, Outcome, ValidationFailed, please_wait
from lobby.services.phone import mask_name, mask_phone, normalise_phone
from lobby.services.text import Label, clean_choice, clean_code, clean_company, clean_free_text, clean_name

log = logging.getLogger(__name__)

PURPOSES: dict[str, tuple[str, str]] = {
    "meeting": ("商务拜访", "Meeting"),
    "delivery": ("送货/快递", "Delivery"),
    "interview": ("面试", "Interview"),
    "contractor": ("施工/维修", "Contractor work"),
    "viewing": ("看房", "Property viewing"),
    "other": ("其他", "Other"),
}
PURPOSE = Label("来访事由", "purpose of your visit")
HOST = Label("被访单位", "host")
PARTY = Label("来访人数", "number of people")

CHECKOUT_METHODS = ("pass", "card", "phone", "staff")


# ------------------------------------------------------------------ what the screens get


@dataclass(frozen=True)
class CheckInForm:
    """What the check-in screen collected; anything may be missing or wrong."""

    name: object = None
    phone: object = None
    host_id: object = None
    purpose: object = None
    party_size: object = 1
    company: object = None
    permit_no: object = None
    consent: object = False


class ReadBackLine(NamedTuple):
    field: str  # the CheckInForm field this row shows (the screen's "change" goes there)
    label_zh: str
    label_en: str
    value: str


@dataclass(frozen=True)
class CheckInDetails:
    """A validated form, for the confirm screen ("请您核对确认") and the check-in itself."""

    name: str
    phone: str
    host: Host
    purpose: str
    party_size: int
    company: str | None = None
    permit_no: str | None = None

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    def lines(self) -> list[tuple[str, str, str]]:
        """(label zh, label en, value) rows to read back before confirming."""
        return [(zh, en, value) for _field, zh, en, value in self.read_back()]

    def read_back(self) -> list[ReadBackLine]:
        """The rows to read back before confirming, each with the form field it shows."""
        zh, en = PURPOSES[self.purpose]
        out = [ReadBackLine("name", "姓名", "Name", self.name), ReadBackLine("phone", "手机号", "Mobile", self.phone)]
        if self.company:
            out.append(ReadBackLine("company", "单位", "Company", self.company))
        out += [ReadBackLine("host_id", "被访", "Host", self.host.label),
                ReadBackLine("purpose", "事由", "Purpose", f"{zh} {en}"),
                ReadBackLine("party_size", "人数", "People", str(self.party_size))]
        if self.permit_no:
            out.append(ReadBackLine("permit_no", "施工许可证", "Work permit", self.permit_no))
        return out


@dataclass(frozen=True)
class HostAck:
    message: str | None
    eta_min: int | None
    at: dt.datetime


@dataclass(frozen=True)
class VisitView:
    visit_id: str
    status: str  # in, out, held, denied
    name: str | None
    masked_name: str
    masked_phone: str
    company: str | None
    host: Host
    purpose: str
    purpose_zh: str
    purpose_en: str
    party_size: int
    checked_in: dt.datetime  # site-local
    pass_no: str | None = None
    valid_until: dt.datetime | None = None  # site-local
    checked_out: dt.datetime | None = None
    card_linked: bool = False
    host_ack: HostAck | None = None
    invitation_id: str | None = None


@dataclass(frozen=True)
class VisitChoice:
    """One line of the "which visit is yours?" list: nothing but a masked name."""

    visit_id: str
    masked_name: str
    checked_in: dt.datetime
    host_unit: str
    party_size: int


# ------------------------------------------------------------------ messages


def _welcome(pass_no: str) -> Message:
    return Message("checked_in", f"您好，登记成功，您的通行证号是 {pass_no}。我们已通知被访人，请稍候。谢谢！",
                   f"Hello, you are checked in. Your pass number is {pass_no}. "
                   f"We have let your host know; please wait a moment. Thank you.")


def _duplicate(pass_no: str | None) -> Message:
    if pass_no is None:
        return Message("duplicate", "您已提交登记，无需重复提交。请稍候，工作人员将为您办理。",
                       "Your registration has already been sent; no need to submit again. "
                       "Please wait a moment for a member of staff.")
    return Message("duplicate", f"您已登记成功，无需重复提交。您的通行证号是 {pass_no}。",
                   f"You are already checked in; no need to submit again. Your pass number is {pass_no}.")


def _held(within_s: float) -> Message:
    """DOMAIN: greet an arriving visitor within service.greet_visitor_within_s, and tell a waiting person how long."""
    minutes = max(1, round(within_s / 60))
    return Message("held", f"您好，请稍候，工作人员将在{minutes}分钟内为您完成登记。谢谢您的耐心。",
                   f"Hello, please wait a moment; a member of staff will complete your registration within "
                   f"{minutes} minute{'s' if minutes != 1 else ''}. Thank you for your patience.")
DENIED = Message("denied", "对不起，本次登记未能通过，请与被访人联系或咨询前台。",
                 "Sorry, this registration could not be approved. Please contact your host or ask the front desk.")
CHECKED_OUT = Message("checked_out", "您已办理离开登记。感谢您的来访，再见！",
                      "You are checked out. Thank you for visiting, goodbye!")
UNKNOWN_PASS = Message("unknown_pass", "对不起，没有找到这张访客证。请核对后重试，或请前台协助办理离开。",
                       "Sorry, we could not find this pass. Please check it and try again, "
                       "or ask the front desk to check you out.")
UNKNOWN_CARD = Message("unknown_card", "对不起，这张卡没有登记为访客卡，请交给前台。谢谢！",
                       "Sorry, this card is not registered as a visitor pass. Please hand it to the front desk. Thank you.")
LAST4_INVALID = FieldError("last4", "invalid", "请输入您手机号的后4位数字。",
                           "Please enter the last 4 digits of your mobile number.")
LAST4_NONE = Message("not_found", "对不起，没有找到以这4位数字结尾的在访登记。请核对后重试，或请前台协助。",
                     "Sorry, we found no current visit for a mobile number ending in these 4 digits. "
                     "Please check and try again, or ask the front desk.")
NOT_HELD = Message("not_held", "此登记不在待审核状态。", "This check-in is not waiting for approval.")


def _already_out(at: dt.datetime | None) -> Message:
    when = at.strftime("%H:%M") if at else ""
    return Message("already_out", f"您已于{when}办理离开登记，无需再次操作。谢谢，再见！",
                   f"You already checked out at {when}; nothing more to do. Thank you, goodbye!")


# ------------------------------------------------------------------ validation


def _party_size(value: object, maximum: int) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and 0 < len(value.strip()) <= 4:
        text = unicodedata.normalize("NFKC", value).strip()
        if all(unicodedata.category(c) == "Nd" for c in text):
            number = int("".join(str(unicodedata.decimal(c)) for c in text))
    if number is None:
        raise ValidationFailed(FieldError("party_size", "invalid", "请输入来访人数（数字）。",
                                          "Please enter the number of people as a number."))
    if not 1 <= number <= maximum:
        raise ValidationFailed(FieldError(
            "party_size", "out_of_range", f"对不起，来访人数应为1至{maximum}人。人数较多时请前台协助登记。",
            f"Sorry, the number of people must be from 1 to {maximum}. For a larger group, please ask the front desk."))
    return number


def validate_form(ctx: ServiceContext, tx: Transaction, form: CheckInForm) -> CheckInDetails:
    """Every field checked; all problems reported together."""
    cfg = ctx.cfg.visitors
    errors: list[FieldError] = []
    values: dict[str, Any] = {}

    def attempt(key: str, fn: Any) -> None:
        try:
            values[key] = fn()
        except ValidationFailed as exc:
            errors.extend(exc.errors)

    attempt("name", lambda: clean_name(form.name, max_len=cfg.name_max_len))
    attempt("phone", lambda: normalise_phone(form.phone))
    attempt("company", lambda: clean_company(form.company, max_len=cfg.company_max_len))
    attempt("purpose", lambda: clean_choice(form.purpose, PURPOSES, field="purpose", label=PURPOSE))
    attempt("party_size", lambda: _party_size(form.party_size, cfg.max_party_size))
    attempt("permit_no", lambda: clean_code(form.permit_no, max_len=cfg.permit_max_len,
                                            required=values.get("purpose") == "contractor"))

    host = None
    if not isinstance(form.host_id, str) or not form.host_id.strip():
        errors.append(FieldError("host_id", "required", "请选择被访单位或被访人。", "Please choose whom you are visiting."))
    else:
        host = get_host(tx, form.host_id.strip())
        if host is None:
            errors.append(FieldError("host_id", "unknown_host", "对不起，找不到该被访单位，请重新选择或请前台协助。",
                                     "Sorry, we could not find that host. Please choose again or ask the front desk."))
    if form.consent is not True:
        errors.append(FieldError("consent", "consent_required", "请阅读并同意隐私说明后继续。",
                                 "Please read and accept the privacy notice to continue."))
    if errors:
        raise ValidationFailed(*errors)
    assert host is not None
    return CheckInDetails(values["name"], values["phone"], host, values["purpose"], values["party_size"],
                          values["company"], values["permit_no"])


# ------------------------------------------------------------------ the service


class VisitorService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        cfg = ctx.cfg.visitors
        self.last4_limiter = ctx.guesses("phone_last4", cfg.code_max_failures, cfg.code_failure_window_min,
                                         cfg.code_delay_max_s)

    # -------------------------------------------------------------- check-in

    def validate(self, form: CheckInForm) -> Outcome[CheckInDetails]:
        """For the confirm screen: the cleaned details, or the field errors."""
        try:
            details = validate_form(self.ctx, self.ctx.reader(), form)
        except ValidationFailed as exc:
            return Outcome.failure("invalid", CHECK_FORM, exc.errors)
        return Outcome.success("valid", Message("confirm", "请您核对以下信息，确认无误后提交。",
                                                "Please check your details and confirm."), details)

    def check_in(self, form: CheckInForm, now: Instant | None = None) -> Outcome[VisitView]:
        now = self.ctx.now(now)
        try:
            with self.ctx.store.transaction() as tx:
                details = validate_form(self.ctx, tx, form)
                status, visit_id = self.check_in_tx(tx, details, now)
        except ValidationFailed as exc:
            return Outcome.failure("invalid", CHECK_FORM, exc.errors)
        except StoreError as exc:
            return store_failure(exc, "check-in")
        return self.check_in_outcome(status, visit_id)

    def check_in_outcome(self, status: str, visit_id: str) -> Outcome[VisitView]:
        view = self.get(visit_id)
        assert view is not None
        log.info("visit %s: %s", visit_id, status)
        if status == "held":
            return Outcome.success("held", _held(self.ctx.cfg.service.greet_visitor_within_s), view)
        if status == "duplicate":
            return Outcome.success("duplicate", _duplicate(view.pass_no), view)
        return Outcome.success("checked_in", _welcome(view.pass_no or ""), view)

    def check_in_tx(self, tx: Transaction, details: CheckInDetails, now: Instant,
                    invitation_id: str | None = None) -> tuple[str, str]:
        """Record a validated check-in in the caller's transaction: ('checked_in'|'held'|'duplicate', visit id)."""
        ctx = self.ctx
        dedupe = ctx.keyed_hash("visit", details.name.casefold().replace(" ", ""), details.phone, details.host.id)
        window_ns = int(ctx.cfg.visitors.duplicate_window_s * 1e9)
        earlier = row(tx, "SELECT id FROM visits WHERE dedupe_key = ? AND boot_id = ? AND mono_ns >= ? "
                          "AND status IN ('in', 'held', 'denied') ORDER BY mono_ns DESC LIMIT 1",
                      (dedupe, now.boot_id, now.mono_ns - window_ns))
        if earlier is not None:
            return "duplicate", earlier["id"]
        watch = watchlist.match(ctx.cfg, ctx.card_key, details.name, details.phone)
        visit_id = uuid7()
        tx.execute(
            "INSERT INTO visits (id, status, name, phone, company, permit_no, dedupe_key, host_id, host_unit, "
            "host_company, host_person, purpose, party_size, invitation_id, consent_ts, checked_in_ts, boot_id, "
            "mono_ns, clock_synced, site_day, watch_entry) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?, ?, ?)",
            (visit_id, "held" if watch else "in", details.name, details.phone, details.company, details.permit_no,
             dedupe, details.host.id, details.host.unit, details.host.company, details.host.person, details.purpose,
             details.party_size, invitation_id, now.ts, now.ts, now.boot_id, now.mono_ns, int(now.synced),
             ctx.site_day(now), watch))
        if watch:
            tx.emit("visitor", "visitor.held", {"visit_id": visit_id, "host_id": details.host.id,
                                                "party_size": details.party_size, "purpose": details.purpose,
                                                "watch_entry": watch})
            assert ctx.alerts is not None
            note = next((w.note for w in ctx.cfg.visitors.watchlist if w.id == watch), "")
            ctx.alerts.raise_alert(alert_key("visitor.held", visit_id), Severity.WARNING,
                                   "访客登记待审核 Visitor check-in awaiting approval" + (f" · {note}" if note else ""),
                                   {"visit_id": visit_id, "watch_entry": watch, "party_size": details.party_size,
                                    "note": note}, tx=tx)
            return "held", visit_id
        self._admit(tx, visit_id, now)
        return "checked_in", visit_id

    def _admit(self, tx: Transaction, visit_id: str, now: Instant, approved_by: str | None = None) -> None:
        record = passes.issue(tx, self.ctx, visit_id, now)
        visit = row(tx, "SELECT * FROM visits WHERE id = ?", (visit_id,))
        assert visit is not None
        data: dict[str, Any] = {
            "visit_id": visit_id,
            "host": {"id": visit["host_id"], "unit": visit["host_unit"], "company": visit["host_company"],
                     "person": visit["host_person"] or ""},
            "party_size": visit["party_size"], "purpose": visit["purpose"], "pass_no": record["pass_no"],
            "valid_until": record["valid_until"], "checked_in_at": visit["checked_in_ts"],
            "phone": visit["phone"] if not self.ctx.cfg.privacy.mask_phone_in_events else mask_phone(visit["phone"]),
            "phone_masked": self.ctx.cfg.privacy.mask_phone_in_events,
        }
        if self.ctx.cfg.privacy.name_in_events:
            data["visitor_name"] = visit["name"]
        if visit["invitation_id"]:
            data["invitation_id"] = visit["invitation_id"]
        if approved_by:
            data["approved_by"] = approved_by
        tx.emit("visitor", "visitor.checked_in", data)

    # -------------------------------------------------------------- reading

    def get(self, visit_id: str) -> VisitView | None:
        found = self.ctx.store.query(
            "SELECT v.*, p.pass_no, p.valid_until, p.card_hash FROM visits v "
            "LEFT JOIN visitor_passes p ON p.visit_id = v.id WHERE v.id = ?", (visit_id,))
        return self._view(found[0]) if found else None

    def _view(self, r: dict[str, Any]) -> VisitView:
        local = self.ctx.local
        zh, en = PURPOSES.get(r["purpose"], (r["purpose"], r["purpose"]))
        ack = None
        if r["host_ack_ts"]:
            ack = HostAck(r["host_ack_message"], r["host_ack_eta_min"], local(r["host_ack_ts"]))
        return VisitView(
            visit_id=r["id"], status=r["status"], name=r["name"], masked_name=mask_name(r["name"]),
            masked_phone=mask_phone(r["phone"]), company=r["company"],
            host=Host(r["host_id"], r["host_unit"], r["host_company"], r["host_person"] or "", ""),
            purpose=r["purpose"], purpose_zh=zh, purpose_en=en, party_size=r["party_size"],
            checked_in=local(r["checked_in_ts"]), pass_no=r.get("pass_no"),
            valid_until=local(r["valid_until"]) if r.get("valid_until") else None,
            checked_out=local(r["checked_out_ts"]) if r["checked_out_ts"] else None,
            card_linked=bool(r.get("card_hash")), host_ack=ack, invitation_id=r["invitation_id"])

    def held(self) -> list[VisitView]:
        """Check-ins waiting for staff approval (watch list), oldest first."""
        found = self.ctx.store.query("SELECT v.*, NULL AS pass_no, NULL AS valid_until, NULL AS card_hash "
                                     "FROM visits v WHERE status = 'held' ORDER BY checked_in_ts")
        return [self._view(r) for r in found]

    # -------------------------------------------------------------- staff decisions

    def approve(self, visit_id: str, staff_id: str, now: Instant | None = None) -> Outcome[VisitView]:
        return self._decide(visit_id, staff_id, True, self.ctx.now(now))

    def deny(self, visit_id: str, staff_id: str, now: Instant | None = None) -> Outcome[VisitView]:
        return self._decide(visit_id, staff_id, False, self.ctx.now(now))

    def _decide(self, visit_id: str, staff_id: str, approve: bool, now: Instant) -> Outcome[VisitView]:
        try:
            with self.ctx.store.transaction() as tx:
                visit = row(tx, "SELECT status FROM visits WHERE id = ?", (visit_id,))
                if visit is None:
                    return Outcome.failure("unknown_visit", passes.UNKNOWN_VISIT)
                if visit["status"] != "held":
                    return Outcome.failure("not_held", NOT_HELD)
                tx.execute("UPDATE visits SET status = ?, decided_by = ?, decided_ts = ? WHERE id = ?",
                           ("in" if approve else "denied", staff_id[:64], now.ts, visit_id))
                if approve:
                    self._admit(tx, visit_id, now, approved_by=staff_id[:64])
                else:
                    tx.emit("visitor", "visitor.denied", {"visit_id": visit_id, "decided_by": staff_id[:64]})
                assert self.ctx.alerts is not None
                self.ctx.alerts.clear(alert_key("visitor.held", visit_id), tx=tx)
        except StoreError as exc:
            return store_failure(exc, "approval")
        view = self.get(visit_id)
        if approve:
            return Outcome.success("checked_in", _welcome(view.pass_no or "") if view else CHECKED_OUT, view)
        return Outcome.success("denied", DENIED, view)

    # -------------------------------------------------------------- check-out

    def check_out_by_pass(self, scanned: object, now: Instant | None = None) -> Outcome[VisitView]:
        """The badge QR scanned (a USB scanner types the pass number) or the number typed."""
        code = read_code(scanned)
        if code is None:
            return Outcome.failure("unknown_pass", UNKNOWN_PASS)
        found = self.ctx.store.query("SELECT visit_id FROM visitor_passes WHERE pass_no = ?", (code,))
        if not found:
            return Outcome.failure("unknown_pass", UNKNOWN_PASS)
        return self.check_out(found[0]["visit_id"], "pass", now=now)

    def check_out_by_card(self, uid: str, now: Instant | None = None) -> Outcome[VisitView]:
        """A temporary pass card returned at the reader."""
        digest = passes.uid_hash(self.ctx, uid)
        if digest is None:
            return Outcome.failure("card_unreadable", passes.CARD_BAD)
        active = self.ctx.store.query("SELECT visit_id FROM visitor_passes WHERE card_hash = ? AND state = 'active' "
                                      "ORDER BY valid_from DESC LIMIT 1", (digest,))
        if active:
            return self.check_out(active[0]["visit_id"], "card", now=now)
        returned = self.ctx.store.query("SELECT visit_id FROM visitor_passes WHERE card_hash = ? "
                                        "ORDER BY returned_ts DESC LIMIT 1", (digest,))
        if returned:
            view = self.get(returned[0]["visit_id"])
            return Outcome.success("already_out", _already_out(view.checked_out if view else None), view)
        return Outcome.failure("unknown_card", UNKNOWN_CARD)

    def find_by_phone_last4(self, digits: object, now: Instant | None = None) -> Outcome[list[VisitChoice]]:
        """Visits still in the building whose phone ends in these 4 digits (masked names only)."""
        now = self.ctx.now(now)
        wait = self.last4_limiter.wait_s(now)
        if wait is not None:
            return Outcome.failure("rate_limited", please_wait(wait))
        text = unicodedata.normalize("NFKC", digits).strip() if isinstance(digits, str) else ""
        if len(text) != 4 or not all(unicodedata.category(c) == "Nd" for c in text):
            return Outcome.failure("invalid", CHECK_FORM, (LAST4_INVALID,))
        text = "".join(str(unicodedata.decimal(c)) for c in text)
        found = self.ctx.store.query(
            "SELECT id, name, checked_in_ts, host_unit, party_size FROM visits "
            "WHERE status = 'in' AND phone IS NOT NULL AND substr(phone, -4) = ? ORDER BY checked_in_ts DESC LIMIT 10",
            (text,))
        if not found:
            self.last4_limiter.failed(now)
            return Outcome.failure("not_found", LAST4_NONE)
        choices = [VisitChoice(r["id"], mask_name(r["name"]), self.ctx.local(r["checked_in_ts"]), r["host_unit"],
                               r["party_size"]) for r in found]
        return Outcome.success("choose", Message("choose", "请选择您的登记记录。", "Please choose your visit."), choices)

    def check_out(self, visit_id: str, method: str = "phone", now: Instant | None = None,
                  by: str | None = None) -> Outcome[VisitView]:
        """Sign a visit out (by pass, card, phone digits list or staff). Idempotent."""
        if method not in CHECKOUT_METHODS:
            raise ValueError(f"unknown check-out method {method!r}")
        now = self.ctx.now(now)
        try:
            with self.ctx.store.transaction() as tx:
                result = self.check_out_tx(tx, visit_id, method, now)
        except StoreError as exc:
            return store_failure(exc, "check-out")
        view = self.get(visit_id)
        if result == "unknown":
            return Outcome.failure("unknown_visit", passes.UNKNOWN_VISIT)
        if result == "already_out":
            return Outcome.success("already_out", _already_out(view.checked_out if view else None), view)
        if result == "not_in":
            return Outcome.failure("visit_not_active", passes.VISIT_NOT_ACTIVE, value=view)
        log.info("visit %s: checked out by %s", visit_id, method)
        return Outcome.success("checked_out", CHECKED_OUT, view)

    def check_out_tx(self, tx: Transaction, visit_id: str, method: str, now: Instant) -> str:
        visit = row(tx, "SELECT v.status, v.party_size, v.checked_in_ts, p.pass_no, p.site_day FROM visits v "
                        "LEFT JOIN visitor_passes p ON p.visit_id = v.id WHERE v.id = ?", (visit_id,))
        if visit is None:
            return "unknown"
        if visit["status"] == "out":
            return "already_out"
        if visit["status"] != "in":
            return "not_in"
        tx.execute("UPDATE visits SET status = 'out', checked_out_ts = ?, checkout_method = ? WHERE id = ?",
                   (now.ts, method, visit_id))
        tx.execute("UPDATE visitor_passes SET state = 'returned', returned_ts = ? WHERE visit_id = ?",
                   (now.ts, visit_id))
        minutes = max(0, int((now.wall - parse_ts(visit["checked_in_ts"])).total_seconds() // 60))
        tx.emit("visitor", "visitor.checked_out", {
            "visit_id": visit_id, "pass_no": visit["pass_no"], "method": method, "checked_out_at": now.ts,
            "party_size": visit["party_size"], "duration_min": minutes})
        if visit["site_day"]:
            self._maybe_clear_unreturned(tx, visit["site_day"])
        return "checked_out"

    # -------------------------------------------------------------- host acknowledgement (command)

    def apply_host_ack(self, tx: Transaction, data: dict[str, Any], now: Instant | None = None) -> dict[str, Any]:
        now = self.ctx.now(now)
        visit = row(tx, "SELECT status FROM visits WHERE id = ?", (data["visit_id"],))
        if visit is None:
            raise CommandRejected(f"there is no visit with id {data['visit_id']!r} at this kiosk")
        message = None
        if data.get("message") is not None:
            try:
                message = clean_free_text(data["message"], field="message", max_len=200, required=False)
            except ValidationFailed as exc:
                raise CommandRejected(f"message: {exc.errors[0].en}") from None
        tx.execute("UPDATE visits SET host_ack_message = ?, host_ack_eta_min = ?, host_ack_ts = ? WHERE id = ?",
                   (message, data.get("eta_min"), now.ts, data["visit_id"]))
        return {"visit_id": data["visit_id"], "visit_status": visit["status"]}

    # -------------------------------------------------------------- unreturned passes

    def _alert_time(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, self.ctx.cfg.visitors.unreturned_pass_alert_at, self.ctx.tz)

    def check_unreturned_passes(self, now: Instant | None = None, lookback_days: int = 7) -> dict[str, int]:
        """Raise one alert per site day whose passes are still out after visitors.unreturned_pass_alert_at.

        Idempotent: call it every minute. The detail has counts only.
        Returns {day: passes still out} for the days alerted.
        """
        now = self.ctx.now(now)
        today = now.local(self.ctx.tz).date()
        first = (today - dt.timedelta(days=lookback_days)).isoformat()
        counts = self.ctx.store.query(
            "SELECT p.site_day AS day, count(*) AS passes, sum(v.party_size) AS people FROM visitor_passes p "
            "JOIN visits v ON v.id = p.visit_id WHERE p.state = 'active' AND v.status = 'in' AND p.site_day >= ? "
            "GROUP BY p.site_day", (first,))
        alerted: dict[str, int] = {}
        assert self.ctx.alerts is not None
        for c in counts:
            day = dt.date.fromisoformat(c["day"])
            if now.wall < self._alert_time(day):
                continue
            key = alert_key("visitor.unreturned_passes", c["day"])
            existing = self.ctx.alerts.get(key)
            if existing is None or existing["state"] != "active":
                self.ctx.alerts.raise_alert(key, Severity.WARNING, "访客证未交还 Visitor passes not returned",
                                            {"day": c["day"], "passes": c["passes"], "people": c["people"]})
            alerted[c["day"]] = c["passes"]
        return alerted

    def _maybe_clear_unreturned(self, tx: Transaction, day: str) -> None:
        key = alert_key("visitor.unreturned_passes", day)
        still = tx.execute("SELECT count(*) FROM visitor_passes WHERE site_day = ? AND state = 'active'",
                           (day,)).fetchone()[0]
        if still == 0:
            assert self.ctx.alerts is not None
            self.ctx.alerts.clear(key, tx=tx)


STALE_ZH, STALE_EN = "超过{h}小时，请核实", "over {h} h, verify"


def stale_flag(ctx: ServiceContext) -> tuple[str, str]:
    """The flag of a visit signed in longer ago than visitors.roll_call_hours: "超过24小时，请核实" / "over 24 h, verify"."""
    hours = ctx.cfg.visitors.roll_call_hours
    h = f"{hours:g}"
    return STALE_ZH.format(h=h), STALE_EN.format(h=h)


def visit_rows_in_building(ctx: ServiceContext, tx: Transaction, now: Instant) -> list[dict[str, Any]]:
    """Every visit checked in and not out (held ones too: they stand in the lobby), however long ago.

    DOMAIN: an evacuation needs everyone not signed out. A visit older than
    visitors.roll_call_hours is kept and marked `stale` (to be checked), never dropped.
    """
    stale_before = rfc3339(now.wall - dt.timedelta(hours=ctx.cfg.visitors.roll_call_hours))
    return rows(tx, "SELECT v.id, v.name, v.status, v.party_size, v.host_unit, v.host_company, v.checked_in_ts, "
                    "p.pass_no, v.checked_in_ts < ? AS stale FROM visits v LEFT JOIN visitor_passes p "
                    "ON p.visit_id = v.id WHERE v.status IN ('in', 'held') ORDER BY v.checked_in_ts", (stale_before,))
