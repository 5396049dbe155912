"""Tickets: numbers, promises from the SLA numbers, overdue alerts robust to clock jumps, central's updates."""

from __future__ import annotations

import datetime as dt

import pytest

from lobby.services import LobbyServices, TicketForm
from lobby.services.codes import ALPHABET
from lobby.commands import lobby_specs
from lobby.services.sla import add_working_days
from mqtt_bridge.alerts import AlertEngine
from lobby.commands import CommandContext
from mqtt_bridge.commands import CommandIntake
from tests.services.services_helpers import SHANGHAI, command, events

COMPLAINT = TicketForm(kind="complaint", category="noise", description="楼上夜间装修噪音", contact_name="刘洋",
                       contact_phone="13700001234")
URGENT_REPAIR = TicketForm(kind="repair", category="engineering", description="B1 水管爆裂", floor="B1", urgent=True)


@pytest.fixture
def intake(services: LobbyServices) -> CommandIntake:
    store = services.ctx.store
    ctx = CommandContext(services.ctx.cfg, None, AlertEngine(store), services.ctx.card_key)
    return CommandIntake(store, lobby_specs(ctx, services.ctx.clock), 65536)


def alert_events(services: LobbyServices, type_: str) -> list[str]:
    return [e["key"] for e in events(services.ctx.store, type_) if e["key"].startswith("ticket.overdue")]


def test_complaint_gets_a_readable_number_a_promise_and_an_event(services: LobbyServices) -> None:
    outcome = services.tickets.create(COMPLAINT)
    assert outcome.ok and outcome.status == "created"
    ticket = outcome.value
    assert len(ticket.ticket_no) == 6 and set(ticket.ticket_no) <= set(ALPHABET)
    assert outcome.message.zh == f"您好，您的投诉已登记，单号 {ticket.ticket_no}。我们将在2小时内答复您。谢谢您的反馈！"
    assert outcome.message.en == (f"Hello, your complaint has been recorded as number {ticket.ticket_no}. "
                                  f"We will reply to you within 2 hours. Thank you for telling us.")
    assert [(c.clock, c.due.strftime("%H:%M")) for c in ticket.clocks] == [("first_reply", "12:00")]
    (event,) = events(services.ctx.store, "ticket.created")
    assert event == {
        "ticket_no": ticket.ticket_no, "kind": "complaint", "category": "noise",
        "place": {"building": "A", "floor": "", "area": ""}, "description": "楼上夜间装修噪音", "urgent": False,
        "equipment_fault": False, "return_visit_required": True, "source": "kiosk",
        "created_at": "2026-11-25T02:00:00.000Z", "due": {"first_reply": "2026-11-25T04:00:00.000Z"},
        "contact": {"name": "刘洋", "phone": "137****1234", "phone_masked": True}}


def test_repair_promises(services: LobbyServices, clock) -> None:  # noqa: ANN001
    urgent = services.tickets.create(URGENT_REPAIR)
    assert "工作人员将在15分钟内到场。维修将于今天23:59前完成（不过夜）。" in urgent.message.zh
    assert "Staff will be on site within 15 minutes. The repair will be finished today by 23:59." in urgent.message.en
    assert {c.clock: c.due.strftime("%H:%M") for c in urgent.value.clocks} == {"on_site": "10:15", "completion": "23:59"}
    equipment = services.tickets.create(TicketForm(kind="repair", category="engineering", description="电梯异响",
                                                   area="电梯 Lift car"))
    assert "15分钟内到场" in equipment.message.zh and services.ctx.store.scalar(
        "SELECT equipment_fault FROM tickets WHERE ticket_no = ?", (equipment.value.ticket_no,)) == 1
    ordinary = services.tickets.create(TicketForm(kind="repair", category="cleaning", description="地毯污渍",
                                                 area="大堂 Lobby"))
    assert "到场" not in ordinary.message.zh and [c.clock for c in ordinary.value.clocks] == ["completion"]
    clock.set_wall(dt.datetime(2026, 11, 25, 19, 30, tzinfo=SHANGHAI))  # after same_day_cutoff
    late = services.tickets.create(TicketForm(kind="repair", category="cleaning", description="灯不亮", floor="2F"))
    assert "维修将在24小时内完成。" in late.message.zh and "within 24 hours" in late.message.en
    assert late.value.clocks[0].due == dt.datetime(2026, 11, 26, 19, 30, tzinfo=SHANGHAI)
    enquiry = services.tickets.create(TicketForm(kind="enquiry", category="parking", description="月卡怎么办理"))
    assert "我们将在24小时内答复您" in enquiry.message.zh
    nowhere = services.tickets.create(TicketForm(kind="repair", category="cleaning", description="漏水"))
    assert nowhere.error_for("area").code == "required"


def test_overdue_alert_is_raised_once_and_cleared_when_met(services: LobbyServices, intake: CommandIntake,
                                                            clock) -> None:  # noqa: ANN001
    number = services.tickets.create(URGENT_REPAIR).value.ticket_no
    key = f"ticket.overdue:{number.lower()}:on_site"
    clock.advance(minutes=14)
    assert services.every_minute()["sla"].raised == []
    clock.advance(minutes=2)
    assert services.every_minute()["sla"].raised == [key]
    for _ in range(5):
        clock.advance(60)
        assert services.every_minute()["sla"].raised == []
    assert alert_events(services, "alert.raised") == [key]
    alert = AlertEngine(services.ctx.store).get(key)
    assert alert["severity"] == "critical" and number in alert["detail"]
    assert command(intake, "ticket.update", {"ticket_no": number, "status": "on_site"})["ok"]
    assert AlertEngine(services.ctx.store).get(key)["state"] == "cleared"
    assert alert_events(services, "alert.cleared") == [key]
    view = services.tickets.get(number)
    assert [(c.clock, c.state, c.overdue) for c in view.clocks] == [("on_site", "met", True),
                                                                     ("completion", "running", False)]


def test_wall_clock_jumps_neither_fire_nor_double_alerts(services: LobbyServices, clock) -> None:  # noqa: ANN001
    number = services.tickets.create(COMPLAINT).value.ticket_no
    clock.jump_wall(days=3)  # NTP corrects a Pi that booted with an old time: not 3 days of waiting
    assert services.every_minute()["sla"].raised == []
    clock.advance(hours=2)
    assert services.every_minute()["sla"].raised == [f"ticket.overdue:{number.lower()}:first_reply"]
    clock.jump_wall(days=-5)  # and back again: the alert neither clears nor repeats
    for _ in range(3):
        clock.advance(60)
        report = services.every_minute()["sla"]
        assert report.raised == [] and report.cleared == [] and report.overdue == 1
    assert len(alert_events(services, "alert.raised")) == 1 and alert_events(services, "alert.cleared") == []


def test_after_a_reboot_the_wall_clock_judges(services: LobbyServices, clock) -> None:  # noqa: ANN001
    number = services.tickets.create(COMPLAINT).value.ticket_no
    clock.reboot(downtime_s=3600)
    assert services.every_minute()["sla"].raised == []
    clock.advance(minutes=61)
    assert services.every_minute()["sla"].raised == [f"ticket.overdue:{number.lower()}:first_reply"]
    clock.reboot()
    assert services.every_minute()["sla"].raised == []  # still overdue, not alerted again


def test_status_moves_replies_and_the_return_visit(services: LobbyServices, intake: CommandIntake, clock) -> None:  # noqa: ANN001
    number = services.tickets.create(COMPLAINT).value.ticket_no
    steps = [({"status": "assigned", "assignee": "客服-王"}, "assigned"),
             ({"reply": "您好，已联系楼上住户，今晚起停止夜间施工。", "next_reply_by": "2026-11-26T10:00:00+08:00"}, "assigned"),
             ({"status": "done", "reply": "已处理完毕。"}, "done")]
    for data, status in steps:
        clock.advance(minutes=30)
        result = command(intake, "ticket.update", {"ticket_no": number, **data})
        assert result["ok"] and result["result"]["status"] == status, result
    view = services.tickets.get(number)
    assert [r.text for r in view.replies] == ["您好，已联系楼上住户，今晚起停止夜间施工。", "已处理完毕。"]
    clocks = {c.clock: c for c in view.clocks}
    assert clocks["first_reply"].state == "met" and not clocks["first_reply"].overdue
    assert clocks["next_reply"].state == "met"
    # done on Wednesday 11:30: the return visit is due Friday 11:30 (2 working days)
    assert clocks["return_visit"].due == dt.datetime(2026, 11, 27, 11, 30, tzinfo=SHANGHAI)
    closing = command(intake, "ticket.update", {"ticket_no": number, "status": "closed"})
    assert closing["ok"] is False and "needs its return visit first" in closing["error"]
    assert command(intake, "ticket.update", {"ticket_no": number, "status": "return_visit_done"})["ok"]
    assert command(intake, "ticket.update", {"ticket_no": number, "status": "closed"})["ok"]
    statuses = [(e["previous_status"], e["status"]) for e in events(services.ctx.store, "ticket.updated")]
    assert statuses == [("received", "assigned"), ("assigned", "assigned"), ("assigned", "done"),
                        ("done", "return_visit_done"), ("return_visit_done", "closed")]
    shown = services.tickets.lookup(number)
    assert shown.ok and shown.value.status_zh == "已办结" and "已办结" in shown.message.zh


def test_an_invalid_complaint_gets_its_reply_but_no_return_visit(services: LobbyServices, intake: CommandIntake,
                                                                  clock) -> None:  # noqa: ANN001
    number = services.tickets.create(COMPLAINT).value.ticket_no
    clock.advance(minutes=30)
    done = command(intake, "ticket.update", {"ticket_no": number, "status": "done", "reply": "已核实", "valid": True})
    assert done["ok"], done
    assert {c.clock: c.state for c in services.tickets.get(number).clocks}["return_visit"] == "running"
    verdict = command(intake, "ticket.update", {"ticket_no": number, "valid": False})  # central changed its mind
    assert verdict["ok"], verdict
    clocks = {c.clock: c.state for c in services.tickets.get(number).clocks}
    assert clocks["return_visit"] == "cancelled" and clocks["first_reply"] == "met"
    assert command(intake, "ticket.update", {"ticket_no": number, "status": "closed"})["ok"]  # no return visit owed
    updated = events(services.ctx.store, "ticket.updated")
    assert updated[0]["valid"] is True and "return_visit_required" not in updated[0]
    assert updated[1]["valid"] is False and updated[1]["return_visit_required"] is False
    assert services.ctx.store.scalar("SELECT complaint_valid FROM tickets WHERE ticket_no = ?", (number,)) == 0


def test_an_invalid_complaint_still_has_its_reply_clock(services: LobbyServices, intake: CommandIntake,
                                                        clock) -> None:  # noqa: ANN001
    number = services.tickets.create(COMPLAINT).value.ticket_no
    assert command(intake, "ticket.update", {"ticket_no": number, "valid": False})["ok"]
    assert {c.clock: c.state for c in services.tickets.get(number).clocks}["first_reply"] == "running"
    assert command(intake, "ticket.update", {"ticket_no": number, "status": "done"})["ok"]
    assert "return_visit" not in {c.clock for c in services.tickets.get(number).clocks}
    repair = services.tickets.create(URGENT_REPAIR).value.ticket_no
    refused = command(intake, "ticket.update", {"ticket_no": repair, "valid": False})
    assert refused["ok"] is False and "not a complaint" in refused["error"]


@pytest.mark.parametrize(("path", "bad"), [
    (["on_site"], "assigned"), (["done"], "received"), (["closed"], "assigned"), (["closed"], "closed+reply"),
    (["on_site"], "return_visit_done"),
])
def test_impossible_transitions_are_rejected(services: LobbyServices, intake: CommandIntake, path: list[str],
                                              bad: str) -> None:
    number = services.tickets.create(TicketForm(kind="enquiry", category="other", description="快递放哪里")).value.ticket_no
    for status in path:
        assert command(intake, "ticket.update", {"ticket_no": number, "status": status})["ok"]
    data = {"ticket_no": number, "status": "closed", "reply": "again"} if bad == "closed+reply" else \
        {"ticket_no": number, "status": bad}
    result = command(intake, "ticket.update", data)
    assert result["ok"] is False and f"cannot move from {path[-1]} to {bad.split('+')[0]}" in result["error"]
    assert "allowed next:" in result["error"]
    assert services.tickets.get(number).status == path[-1]


def test_unknown_ticket_and_bad_reply_are_rejected(services: LobbyServices, intake: CommandIntake) -> None:
    result = command(intake, "ticket.update", {"ticket_no": "ABCDEF", "status": "assigned"})
    assert result == {"id": result["id"], "ok": False, "error": "there is no ticket ABCDEF at this gateway"}
    number = services.tickets.create(COMPLAINT).value.ticket_no
    bad = command(intake, "ticket.update", {"ticket_no": number, "reply": "a\x00b"})
    assert bad["ok"] is False and bad["error"].startswith("reply: Sorry")
    assert services.ctx.store.scalar("SELECT count(*) FROM ticket_updates") == 0


def test_repair_done_starts_return_visit_around_weekends_and_holidays(make_services, intake: CommandIntake,
                                                                       clock) -> None:  # noqa: ANN001
    services = make_services('[service]\nholidays = ["2026-11-30"]\nextra_workdays = ["2026-11-29"]\n')
    number = services.tickets.create(URGENT_REPAIR).value.ticket_no
    clock.set_wall(dt.datetime(2026, 11, 27, 16, 0, tzinfo=SHANGHAI))  # Friday
    store = services.ctx.store
    ctx = CommandContext(services.ctx.cfg, None, AlertEngine(store), services.ctx.card_key)
    own = CommandIntake(store, lobby_specs(ctx, clock), 65536)
    assert command(own, "ticket.update", {"ticket_no": number, "status": "done"})["ok"]
    due = {c.clock: c for c in services.tickets.get(number).clocks}["return_visit"].due
    # Sunday 29th is worked in lieu, Monday 30th is a holiday: Sunday + Tuesday
    assert due == dt.datetime(2026, 12, 1, 16, 0, tzinfo=SHANGHAI)
    plain = add_working_days(dt.datetime(2026, 11, 27, 16, 0, tzinfo=SHANGHAI), 2, set(), set())
    assert plain == dt.datetime(2026, 12, 1, 16, 0, tzinfo=SHANGHAI)


def test_lookup_with_a_wrong_number_is_clear_and_rate_limited(services: LobbyServices, clock) -> None:  # noqa: ANN001
    number = services.tickets.create(COMPLAINT).value.ticket_no
    found = services.tickets.lookup(f" {number.lower()} ")
    assert found.ok and found.value.status == "received" and found.value.description == "楼上夜间装修噪音"
    assert "刘洋" not in repr(found.value) and "13700001234" not in repr(found.value)
    wrong = services.tickets.lookup("0O1IL0")
    assert not wrong.ok and wrong.status == "not_found"
    assert "0、1" not in wrong.message.zh and "不含数字0和1、字母O、I、L" in wrong.message.zh
    for _ in range(4):
        services.tickets.lookup("ZZZZZZ")
    limited = services.tickets.lookup(number)
    assert limited.status == "rate_limited" and "2 seconds" in limited.message.en and "请前台协助" in limited.message.zh
    clock.advance(minutes=5)
    assert services.tickets.lookup(number).ok


def test_numbers_are_unique(make_services) -> None:  # noqa: ANN001
    services = make_services("[tickets]\nnumber_length = 4\n")
    numbers = {services.tickets.create(TicketForm(kind="praise", category="cleaning", description=f"谢谢 {i}"))
               .value.ticket_no for i in range(150)}
    assert len(numbers) == 150 and all(len(n) == 4 for n in numbers)


def test_receipt_prints_the_promise(make_services, badge_printer, sim_printer) -> None:  # noqa: ANN001
    from drivers.printer.sim import SimPaper

    services = make_services(printer=badge_printer)
    number = services.tickets.create(COMPLAINT).value.ticket_no
    printed = services.tickets.print_receipt(number)
    assert printed.ok and printed.message.zh == "请取走您的回执。"
    sim_printer.set_state(paper=SimPaper.OUT)
    held = services.tickets.print_receipt(number)
    assert held.status == "print_held" and number in held.message.zh and number in held.message.en
    assert services.tickets.print_receipt("ZZZZZZ").status == "not_found"
