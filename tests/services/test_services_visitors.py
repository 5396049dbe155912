"""Visitors: check-in, double submission, passes (badge, card), check-out paths, approval, alerts."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from lobby.services import CheckInForm, LobbyServices
from lobby.commands import lobby_specs
from mqtt_bridge.alerts import AlertEngine
from lobby.cardhash import card_hash
from lobby.commands import CommandContext
from mqtt_bridge.commands import CommandIntake
from lobby.services.phone import phone_hmac
from tests.services.services_helpers import CARD_KEY, SHANGHAI, command, events

CARD = "04A1B2C3D4E5F6"
CARD2 = "7E11AA01"


def form(**changes: object) -> CheckInForm:
    base = dict(name="张伟", phone="+86 138-1234-5678", company="华为技术", host_id="h-1203", purpose="meeting",
                party_size=2, consent=True)
    base.update(changes)
    return CheckInForm(**base)  # type: ignore[arg-type]


def test_check_in_records_the_visit_issues_a_pass_and_tells_central(services: LobbyServices) -> None:
    confirm = services.visitors.validate(form())
    assert confirm.ok and confirm.message.zh.startswith("请您核对")
    assert ("手机号", "Mobile", "13812345678") in confirm.value.lines()
    outcome = services.visitors.check_in(form())
    assert outcome.ok and outcome.status == "checked_in"
    visit = outcome.value
    assert visit.pass_no and len(visit.pass_no) == 5 and not set(visit.pass_no) & set("01OIL")
    assert visit.pass_no in outcome.message.zh and visit.pass_no in outcome.message.en
    assert outcome.message.zh.startswith("您好") and "谢谢" in outcome.message.zh
    assert visit.valid_until == dt.datetime(2026, 11, 25, 23, 59, tzinfo=SHANGHAI)
    assert (visit.host.unit, visit.party_size, visit.masked_phone) == ("12F-1203", 2, "138****5678")
    (event,) = events(services.ctx.store, "visitor.checked_in")
    assert event == {
        "visit_id": visit.visit_id, "host": {"id": "h-1203", "unit": "12F-1203", "company": "华润置地", "person": "李娜"},
        "party_size": 2, "purpose": "meeting", "pass_no": visit.pass_no, "valid_until": "2026-11-25T15:59:00.000Z",
        "checked_in_at": "2026-11-25T02:00:00.000Z", "phone": "138****5678", "phone_masked": True,
        "visitor_name": "张伟"}
    assert "华为" not in str(event)  # the visitor's company stays at the kiosk


def test_privacy_switches_change_what_central_gets(make_services) -> None:  # noqa: ANN001
    services = make_services("[privacy]\nmask_phone_in_events = false\nname_in_events = false\n")
    services.visitors.check_in(form())
    (event,) = events(services.ctx.store, "visitor.checked_in")
    assert event["phone"] == "13812345678" and event["phone_masked"] is False and "visitor_name" not in event


def test_same_check_in_twice_within_the_window_is_one_visit(services: LobbyServices, clock) -> None:  # noqa: ANN001
    first = services.visitors.check_in(form())
    clock.advance(0.4)
    again = services.visitors.check_in(form(name=" 张 伟", phone="13812345678"))
    assert again.ok and again.status == "duplicate" and again.value.visit_id == first.value.visit_id
    assert "无需重复提交" in again.message.zh and again.value.pass_no in again.message.en
    assert services.ctx.store.scalar("SELECT count(*) FROM visits") == 1
    assert len(events(services.ctx.store, "visitor.checked_in")) == 1
    clock.advance(60)  # later, the same person again is a new visit
    assert services.visitors.check_in(form()).status == "checked_in"
    other_host = services.visitors.check_in(form(host_id="h-0801"))
    assert other_host.status == "checked_in"
    assert services.ctx.store.scalar("SELECT count(*) FROM visits") == 3


@pytest.mark.parametrize(("changes", "field", "code"), [
    (dict(consent=False), "consent", "consent_required"),
    (dict(host_id="nobody"), "host_id", "unknown_host"),
    (dict(host_id=None), "host_id", "required"),
    (dict(purpose="party"), "purpose", "invalid_choice"),
    (dict(purpose="contractor"), "permit_no", "required"),
    (dict(party_size=0), "party_size", "out_of_range"),
    (dict(party_size=21), "party_size", "out_of_range"),
    (dict(party_size="two"), "party_size", "invalid"),
    (dict(party_size=True), "party_size", "invalid"),
    (dict(phone="12345"), "phone", "invalid_phone"),
    (dict(name=""), "name", "required"),
])
def test_invalid_forms_get_field_errors(services: LobbyServices, changes: dict, field: str, code: str) -> None:
    outcome = services.visitors.check_in(form(**changes))
    assert not outcome.ok and outcome.status == "invalid"
    assert outcome.message.zh.startswith("对不起") and outcome.message.en.startswith("Sorry")
    assert (outcome.error_for(field).field, outcome.error_for(field).code) == (field, code)
    assert services.ctx.store.scalar("SELECT count(*) FROM visits") == 0


def test_all_errors_are_reported_together(services: LobbyServices) -> None:
    outcome = services.visitors.check_in(CheckInForm())
    assert {e.field for e in outcome.errors} == {"name", "phone", "purpose", "host_id", "consent"}


def test_contractor_with_permit_and_party_size_from_full_width_digits(services: LobbyServices) -> None:
    outcome = services.visitors.check_in(form(purpose="contractor", permit_no="sg-2026-001", party_size="３"))
    assert outcome.ok and outcome.value.party_size == 3
    assert services.ctx.store.scalar("SELECT permit_no FROM visits") == "SG-2026-001"


def test_badge_prints_with_the_pass_number_in_the_qr_and_paper_out_is_a_clear_message(
        make_services, badge_printer, sim_printer) -> None:  # noqa: ANN001
    from drivers.printer.sim import SimPaper, parse_stream

    services = make_services(printer=badge_printer)
    visit = services.visitors.check_in(form()).value
    printed = services.print_badge(visit.visit_id)
    assert printed.ok and printed.status == "printed" and printed.message.zh == "请取走您的访客证。"
    assert [op.name for op in parse_stream(sim_printer.printed_bytes())].count("cut") == 1
    zxingcpp = pytest.importorskip("zxingcpp")
    page = sim_printer.preview_pages()[-1]
    assert [r.text for r in zxingcpp.read_barcodes(page.convert("L"))] == [visit.pass_no]  # no personal data
    sim_printer.set_state(paper=SimPaper.OUT)
    held = services.print_badge(visit.visit_id)
    assert not held.ok and held.status == "print_held"
    assert "前台" in held.message.zh and "front desk" in held.message.en and held.value.held


def test_no_printer_and_unknown_visit(services: LobbyServices) -> None:
    assert services.print_badge("nope").status == "unknown_visit"
    visit = services.visitors.check_in(form()).value
    assert services.print_badge(visit.visit_id).status == "no_printer"


def test_pass_card_link_return_and_second_tap(services: LobbyServices, clock) -> None:  # noqa: ANN001
    visit = services.visitors.check_in(form()).value
    linked = services.link_card(visit.visit_id, "04:a1:b2:c3:d4:e5:f6")
    assert linked.ok and linked.status == "card_linked"
    stored = services.ctx.store.scalar("SELECT card_hash FROM visitor_passes")
    assert stored == card_hash(services.ctx.card_key, CARD) and CARD not in stored.upper()
    assert services.link_card(visit.visit_id, CARD).ok  # the same card again: fine
    other = services.visitors.check_in(form(name="王芳", phone="13900001111")).value
    assert services.link_card(other.visit_id, CARD).status == "card_in_use"
    clock.advance(minutes=45)
    out = services.visitors.check_out_by_card(CARD)
    assert out.ok and out.status == "checked_out" and out.value.status == "out"
    assert out.message.zh == "您已办理离开登记。感谢您的来访，再见！"
    again = services.visitors.check_out_by_card(CARD)
    assert again.ok and again.status == "already_out" and "10:45" in again.message.zh
    assert services.visitors.check_out_by_card(CARD2).status == "unknown_card"
    assert services.visitors.check_out_by_card("not hex").status == "card_unreadable"
    (event,) = events(services.ctx.store, "visitor.checked_out")
    assert event == {"visit_id": visit.visit_id, "pass_no": visit.pass_no, "method": "card",
                     "checked_out_at": "2026-11-25T02:45:00.000Z", "party_size": 2, "duration_min": 45}
    # the returned card can be lent to the next visitor
    assert services.link_card(other.visit_id, CARD).ok


def test_staff_cards_are_not_visitor_passes(services: LobbyServices) -> None:
    with services.ctx.store.transaction() as tx:
        tx.execute("INSERT INTO cards (uid_hash, role, active, source, updated_ts) VALUES (?, 'staff', 1, 'config', 'x')",
                   (card_hash(services.ctx.card_key, CARD2),))
    visit = services.visitors.check_in(form()).value
    assert services.link_card(visit.visit_id, CARD2).status == "card_not_visitor"


def test_check_out_by_badge_scan_unknown_pass_and_already_out(services: LobbyServices) -> None:
    visit = services.visitors.check_in(form()).value
    assert services.visitors.check_out_by_pass("ZZZZZ").status == "unknown_pass"
    unknown = services.visitors.check_out_by_pass("definitely not a pass")
    assert not unknown.ok and "front desk" in unknown.message.en
    out = services.visitors.check_out_by_pass(f" {visit.pass_no.lower()}\n")  # a scanner's Enter, any case
    assert out.status == "checked_out"
    assert services.visitors.check_out_by_pass(visit.pass_no).status == "already_out"
    assert services.visitors.check_out(visit.visit_id, "staff").status == "already_out"
    assert services.visitors.check_out("no-such-visit").status == "unknown_visit"


def test_check_out_by_last_four_digits_shows_masked_names(services: LobbyServices) -> None:
    a = services.visitors.check_in(form(name="张小伟", phone="13812345678")).value
    b = services.visitors.check_in(form(name="Bob Lee", phone="+447911125678", host_id="h-0801")).value
    found = services.visitors.find_by_phone_last4("５６７８")
    assert found.ok and {c.visit_id for c in found.value} == {a.visit_id, b.visit_id}
    assert {c.masked_name for c in found.value} == {"张*伟", "B** L**"}
    assert all("张小伟" not in repr(c) and "Bob" not in repr(c) for c in found.value)
    assert services.visitors.check_out(a.visit_id, "phone").status == "checked_out"
    assert [c.visit_id for c in services.visitors.find_by_phone_last4("5678").value] == [b.visit_id]
    bad = services.visitors.find_by_phone_last4("56a8")
    assert bad.status == "invalid" and bad.error_for("last4").code == "invalid"


def test_wrong_last_four_digits_are_rate_limited(services: LobbyServices, clock) -> None:  # noqa: ANN001
    services.visitors.check_in(form())
    for _ in range(5):
        assert services.visitors.find_by_phone_last4("0000").status == "not_found"
    locked = services.visitors.find_by_phone_last4("5678")
    assert locked.status == "rate_limited" and "2秒" in locked.message.zh and "2 seconds" in locked.message.en
    clock.jump_wall(hours=2)  # a wall-clock step does not unlock
    assert services.visitors.find_by_phone_last4("5678").status == "rate_limited"
    clock.advance(minutes=5)
    assert services.visitors.find_by_phone_last4("5678").ok


def test_unreturned_passes_raise_one_alert_per_day_with_counts_only(services: LobbyServices, clock) -> None:  # noqa: ANN001
    store = services.ctx.store
    first = services.visitors.check_in(form()).value
    services.visitors.check_in(form(name="王芳", phone="13900001111", party_size=1))
    clock.set_wall(dt.datetime(2026, 11, 25, 21, 59, tzinfo=SHANGHAI))
    assert services.every_minute()["unreturned_passes"] == {}
    clock.set_wall(dt.datetime(2026, 11, 25, 22, 0, tzinfo=SHANGHAI))
    assert services.every_minute()["unreturned_passes"] == {"2026-11-25": 2}
    for _ in range(3):
        clock.advance(60)
        services.every_minute()
    alert = AlertEngine(store).get("visitor.unreturned_passes:2026-11-25")
    assert alert["state"] == "active" and '"passes": 2' in alert["detail"] and '"people": 3' in alert["detail"]
    assert "张伟" not in alert["detail"] and "王芳" not in alert["detail"] and "138" not in alert["detail"]
    assert len([e for e in events(store, "alert.raised") if e["key"].startswith("visitor.unreturned")]) == 1
    services.visitors.check_out(first.visit_id, "staff")
    assert AlertEngine(store).get("visitor.unreturned_passes:2026-11-25")["state"] == "active"
    services.visitors.check_out_by_pass(store.scalar("SELECT pass_no FROM visitor_passes WHERE state = 'active'"))
    assert AlertEngine(store).get("visitor.unreturned_passes:2026-11-25")["state"] == "cleared"


def test_host_ack_from_central_becomes_visible_on_the_visit(services: LobbyServices) -> None:
    store = services.ctx.store
    ctx = CommandContext(services.ctx.cfg, None, AlertEngine(store), services.ctx.card_key)
    intake = CommandIntake(store, lobby_specs(ctx, services.ctx.clock), 65536)
    visit = services.visitors.check_in(form()).value
    result = command(intake, "visitor.host_ack", {"visit_id": visit.visit_id, "message": "李娜马上下来接您",
                                                  "eta_min": 5}, cmd_id="ack-1")
    assert result == {"id": "ack-1", "ok": True, "result": {"visit_id": visit.visit_id, "visit_status": "in"}}
    ack = services.visitors.get(visit.visit_id).host_ack
    assert (ack.message, ack.eta_min, ack.at.hour) == ("李娜马上下来接您", 5, 10)
    unknown = command(intake, "visitor.host_ack", {"visit_id": "v-unknown"})
    assert unknown["ok"] is False and unknown["error"] == "there is no visit with id 'v-unknown' at this kiosk"
    assert store.scalar("SELECT state FROM commands WHERE id = 'ack-1'") == "done"  # applied, not queued


def test_watch_list_holds_the_check_in_for_staff(make_services) -> None:  # noqa: ANN001
    digest = phone_hmac(CARD_KEY, "13812345678")  # keyed with the site key (`lobby hash-phone`), not plain SHA-256
    assert digest != hashlib.sha256(b"13812345678").hexdigest()
    services = make_services(f"""
[visitors]
watchlist_enabled = true
watchlist = [{{ id = "wl-1", phone_hmac = "{digest}", note = "duty log 2026-03-02" }},
             {{ id = "wl-2", name = "Mallory  Evil" }}]
""")
    store = services.ctx.store
    held = services.visitors.check_in(form())
    assert held.ok and held.status == "held" and held.value.pass_no is None and "工作人员" in held.message.zh
    assert [v.visit_id for v in services.visitors.held()] == [held.value.visit_id]
    assert AlertEngine(store).get(f"visitor.held:{held.value.visit_id}")["state"] == "active"
    (event,) = events(store, "visitor.held")
    assert event["watch_entry"] == "wl-1" and "张伟" not in str(event) and "138" not in str(event)
    assert events(store, "visitor.checked_in") == []
    by_name = services.visitors.check_in(form(name="mallory evil", phone="13900001111"))
    assert by_name.status == "held"
    approved = services.visitors.approve(held.value.visit_id, "s-01")
    assert approved.ok and approved.status == "checked_in" and approved.value.pass_no
    assert events(store, "visitor.checked_in")[0]["approved_by"] == "s-01"
    assert AlertEngine(store).get(f"visitor.held:{held.value.visit_id}")["state"] == "cleared"
    assert services.visitors.approve(held.value.visit_id, "s-01").status == "not_held"
    denied = services.visitors.deny(by_name.value.visit_id, "s-02")
    assert denied.status == "denied" and denied.value.status == "denied" and denied.value.pass_no is None
    assert services.visitors.check_out(by_name.value.visit_id, "staff").status == "visit_not_active"
    assert services.ctx.store.scalar("SELECT count(*) FROM visitor_passes") == 1
    # the store never holds the listed phone itself
    assert "13812345678" not in str(store.query("SELECT * FROM alerts"))


def test_watch_list_is_off_by_default(services: LobbyServices) -> None:
    assert services.visitors.check_in(form(name="Mallory Evil")).status == "checked_in"


def test_host_directory_search(services: LobbyServices) -> None:
    assert [h.id for h in services.hosts("acme")] == ["h-0801"]
    assert [h.id for h in services.hosts("１２Ｆ")] == ["h-1203"]
    assert services.hosts()[0].label
