"""Text hygiene: every nasty string through every text field gives a clear error or a clean value."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import pytest

from lobby.services import CheckInForm, LobbyServices, TicketForm
from lobby.commands import lobby_specs
from lobby.services.messages import FieldError, ValidationFailed
from lobby.services.phone import mask_name, mask_phone, normalise_phone
from lobby.services.text import clean_code, clean_company, clean_free_text, clean_name
from lobby.commands import CommandContext
from mqtt_bridge.commands import CommandIntake
from tests.services.services_helpers import NASTY, command

LIMITS = """
[visitors]
code_max_failures = 100
[tickets]
lookup_max_failures = 100
"""
_ALLOWED_JOINERS = {"\u200c", "\u200d"}


def assert_clean(text: str, max_len: int, multiline: bool = False) -> None:
    assert text == unicodedata.normalize("NFC", text)
    assert len(text) <= max_len
    lines = text.split("\n") if multiline else [text]
    assert multiline or "\n" not in text
    for line in lines:
        assert line == line.strip() and "  " not in line
    for ch in text:
        if ch == "\n" and multiline:
            continue
        assert unicodedata.category(ch) not in ("Cc", "Co", "Cn", "Cs", "Zl", "Zp"), repr(ch)
        assert unicodedata.category(ch) != "Cf" or ch in _ALLOWED_JOINERS, repr(ch)


def assert_polite(error: FieldError) -> None:
    """DOMAIN wording: Chinese first with 请 (say what to do), English beside with please."""
    assert error.field and error.code
    assert re.search(r"[\u4e00-\u9fff]", error.zh) and "请" in error.zh
    assert "please" in error.en.lower()


def check_field(outcome: Any, field: str, stored: str | None, max_len: int, multiline: bool = False,
                optional: bool = False) -> str:
    if outcome.ok:
        assert stored is not None or optional
        if stored is not None:
            assert_clean(stored, max_len, multiline)
        return "accepted"
    error = outcome.error_for(field)
    if error is None:
        return "other"  # rejected for another field (e.g. a rate limit), still a clear outcome
    assert_polite(error)
    return "rejected"


@pytest.fixture
def lax(make_services) -> LobbyServices:  # noqa: ANN001
    return make_services(LIMITS)


@pytest.mark.parametrize("text", NASTY, ids=range(len(NASTY)))
def test_nasty_names_companies_and_permits_at_check_in(lax: LobbyServices, text: str, clock) -> None:  # noqa: ANN001
    for field, form in (
        ("name", CheckInForm(name=text, phone="13812345678", host_id="h-1203", purpose="meeting", consent=True)),
        ("company", CheckInForm(name="王芳", phone="13812345679", company=text, host_id="h-1203", purpose="meeting",
                                consent=True)),
        ("permit_no", CheckInForm(name="赵六", phone="13812345670", host_id="h-1203", purpose="contractor",
                                  permit_no=text, consent=True)),
    ):
        clock.advance(60)
        checked = lax.visitors.validate(form)
        outcome = lax.visitors.check_in(form)
        assert checked.ok == outcome.ok
        stored = None
        if outcome.ok:
            stored = lax.ctx.store.scalar(f"SELECT {field} FROM visits WHERE id = ?", (outcome.value.visit_id,))
        check_field(outcome, field, stored, 80, optional=field == "company")


@pytest.mark.parametrize("text", NASTY, ids=range(len(NASTY)))
def test_nasty_phones_and_lookups(lax: LobbyServices, text: str) -> None:
    outcome = lax.visitors.check_in(CheckInForm(name="王芳", phone=text, host_id="h-1203", purpose="meeting",
                                                consent=True))
    stored = lax.ctx.store.scalar("SELECT phone FROM visits WHERE id = ?", (outcome.value.visit_id,)) \
        if outcome.ok else None
    if outcome.ok:
        assert re.fullmatch(r"1[3-9]\d{9}|\+[1-9]\d{6,14}", stored)
    else:
        assert_polite(outcome.error_for("phone"))
    # every lookup a person can type into: a clear result, never an exception
    for result in (lax.invitations.find(text), lax.tickets.lookup(text), lax.visitors.check_out_by_pass(text),
                   lax.visitors.find_by_phone_last4(text), lax.visitors.check_out_by_card(text)):
        assert result.status and result.message.zh and result.message.en
        assert result.ok is False or result.status in ("choose",)


@pytest.mark.parametrize("text", NASTY, ids=range(len(NASTY)))
def test_nasty_ticket_fields(lax: LobbyServices, text: str) -> None:
    for field, form in (
        ("description", TicketForm(kind="complaint", category="noise", description=text)),
        ("contact_name", TicketForm(kind="complaint", category="noise", description="楼上装修噪音", contact_name=text)),
        ("contact_phone", TicketForm(kind="complaint", category="noise", description="楼上装修噪音", contact_phone=text)),
        ("category", TicketForm(kind="complaint", category=text, description="x")),
        ("area", TicketForm(kind="repair", category="cleaning", description="x", area=text)),
    ):
        outcome = lax.tickets.create(form)
        stored = None
        if outcome.ok:
            stored = lax.ctx.store.scalar(f"SELECT {field} FROM tickets WHERE ticket_no = ?", (outcome.value.ticket_no,))
        if field == "contact_phone" and outcome.ok:
            assert stored is None or re.fullmatch(r"1[3-9]\d{9}|\+[1-9]\d{6,14}", stored)
            continue
        if field in ("contact_name",) and outcome.ok and stored is None:
            continue  # whitespace-only optional field: left empty
        if field in ("category", "area") and outcome.ok:
            assert stored in lax.ctx.cfg.tickets.categories or stored in lax.ctx.cfg.places.areas or stored == ""
            continue
        check_field(outcome, field, stored, 500, multiline=field == "description")


@pytest.mark.parametrize("text", NASTY, ids=range(len(NASTY)))
def test_nasty_feedback_place_and_reason(lax: LobbyServices, text: str) -> None:
    outcome = lax.feedback.press("unhappy", place=text)
    assert outcome.message.zh and outcome.message.en
    if outcome.ok:
        stored = lax.ctx.store.scalar("SELECT place FROM feedback WHERE id = ?", (outcome.value.press_id,))
        assert_clean(stored, 200)
    reason = lax.feedback.press("unhappy", reason=text)
    assert reason.ok is (text in lax.ctx.cfg.feedback.unhappy_reasons)
    press = lax.feedback.press("very_unhappy")
    assert lax.feedback.add_reason(press.value.press_id, text).ok is False


NASTY_JSON = [t for t in NASTY if "\ud800" not in t]


@pytest.mark.parametrize("text", NASTY_JSON, ids=range(len(NASTY_JSON)))
def test_nasty_text_in_commands_from_central(services: LobbyServices, text: str) -> None:
    from mqtt_bridge.alerts import AlertEngine

    store = services.ctx.store
    ctx = CommandContext(services.ctx.cfg, None, AlertEngine(store), services.ctx.card_key)
    intake = CommandIntake(store, lobby_specs(ctx, services.ctx.clock), 1 << 20)
    visit = services.visitors.check_in(CheckInForm(name="王芳", phone="13812345678", host_id="h-1203",
                                                   purpose="meeting", consent=True)).value
    ticket = services.tickets.create(TicketForm(kind="enquiry", category="other", description="停车费标准")).value
    results = [
        command(intake, "visitor.host_ack", {"visit_id": visit.visit_id, "message": text[:200]}),
        command(intake, "ticket.update", {"ticket_no": ticket.ticket_no, "reply": text[:1000] or "x"}),
        command(intake, "ticket.update", {"ticket_no": ticket.ticket_no, "assignee": text[:64] or "x"}),
        command(intake, "visitor.invite", {"invite_id": "inv-n", "code": "12345678", "visitor_name": text[:200] or "x",
                                           "visitor_phone": "13900001111", "host_id": "h-1203", "purpose": "meeting",
                                           "valid_from": "2026-11-25T00:00:00Z"}),
        command(intake, "visitor.invite", {"invite_id": "inv-p", "code": "65432187", "visitor_name": "王芳",
                                           "visitor_phone": text[:32] or "x", "visitor_company": text[:400],
                                           "host_id": "h-1203", "purpose": "meeting",
                                           "valid_from": "2026-11-25T00:00:00Z"}),
        command(intake, "evacuation.start", {"reason": text[:200], "drill": True}),
        command(intake, "evacuation.end", {}),
    ]
    for result in results:
        assert "internal error" not in result.get("error", ""), result
        assert result["ok"] or result["error"]
    ack = services.visitors.get(visit.visit_id).host_ack
    if ack is not None and ack.message is not None:
        assert_clean(ack.message.replace("\n", " ").replace("  ", " "), 200, multiline=False) if "\n" not in ack.message \
            else assert_clean(ack.message, 200, multiline=True)
    for row in store.query("SELECT name, company FROM invitations"):
        for value in row.values():
            if value is not None:
                assert_clean(value, 400)


# ---------------------------------------------------------------------- the normalisation itself


def test_names_are_normalised_nfc_trimmed_and_collapsed() -> None:
    assert clean_name("  张  伟 ") == "张 伟"
    assert clean_name("Jose\u0301  Martí") == "José Martí"
    assert clean_name("ＪＯＨＮ\u3000ＳＭＩＴＨ") == "JOHN SMITH"
    assert clean_name("约翰·史密斯") == "约翰·史密斯"
    assert clean_name("O'Brien-Smith") == "O'Brien-Smith"
    assert clean_name("محمد علي") == "محمد علي"
    assert clean_name("Nguyễn Văn A") == "Nguyễn Văn A"
    assert clean_name("می\u200cخواهم") == "می\u200cخواهم"  # Persian needs the zero-width non-joiner
    assert clean_name(None, required=False) is None and clean_name("   ", required=False) is None


@pytest.mark.parametrize(("text", "code"), [
    ("", "required"), ("   ", "required"), ("\u3000", "required"), ("a" * 41, "too_long"), ("张" * 10_000, "too_long"),
    ("a\x00b", "control_chars"), ("line\nbreak", "control_chars"), ("\u202eevil", "format_chars"),
    ("zero\u200bwidth", "format_chars"), ("\u200d", "format_chars"), ("\u3164", "format_chars"),
    ("\u0301x", "stray_marks"), ("Z" + "\u0351" * 8, "stray_marks"), ("张伟😀", "emoji"), ("R2D2", "digits"),
    ("Robert'); DROP TABLE visits;--", "symbols"), ("\ue000", "invalid_chars"), ("'-.", "no_letters"),
])
def test_name_errors_are_structured_and_polite(text: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        clean_name(text)
    (error,) = info.value.errors
    assert (error.field, error.code) == ("name", code)
    assert_polite(error)


def test_other_text_kinds() -> None:
    assert clean_company("Robert'); DROP TABLE visits;--") == "Robert'); DROP TABLE visits;--"
    assert clean_company("  58同城  ") == "58同城"
    assert clean_code("ab-12 / 34") == "AB-12 / 34"
    assert clean_free_text("第一行  \r\n\r\n\r\n\r\n  第二行 😀") == "第一行\n\n第二行 😀"
    with pytest.raises(ValidationFailed):
        clean_free_text("emoji family 👨‍👩‍👧")  # a zero-width joiner outside a word: refused, not stripped


@pytest.mark.parametrize(("raw", "canonical"), [
    ("13812345678", "13812345678"), ("138-1234-5678", "13812345678"), ("138 1234 5678", "13812345678"),
    ("+86 138 1234 5678", "13812345678"), ("0086 13812345678", "13812345678"), ("8613812345678", "13812345678"),
    ("(+86) 138.1234.5678", "13812345678"), ("１３８１２３４５６７８", "13812345678"), ("١٣٨١٢٣٤٥٦٧٨", "13812345678"),
    ("+44 7911 123456", "+447911123456"), ("+1 (415) 555-2671", "+14155552671"), ("+852 6123 4567", "+85261234567"),
])
def test_phone_forms(raw: str, canonical: str) -> None:
    assert normalise_phone(raw) == canonical


@pytest.mark.parametrize("raw", ["12345678901", "1381234567", "138123456789", "+86 010 1234 5678", "+0 123456789",
                                 "+12345", "138l2345678", "+44 7911 123456 ext 2", "138\u200b12345678"])
def test_bad_phones(raw: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        normalise_phone(raw)
    assert info.value.errors[0].code == "invalid_phone"


def test_masks() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+447911123456") == "+44******3456"
    assert mask_name("张伟") == "张*" and mask_name("张小伟") == "张*伟" and mask_name("Bob Lee") == "B** L**"
