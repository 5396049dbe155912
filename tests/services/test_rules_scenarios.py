"""Scenario tests from the department's rules, one per rule, named after it (docs/RULES.md lists them).

Each drives the lobby services through a ManualClock at the awkward moments the sources make real:
Friday 23:50, 02:00, the day before a long holiday, a verdict hours after filing, a Pi whose clock is
3 h slow, a reboot, a visitor nobody signed out.
"""

from __future__ import annotations

import datetime as dt

import pytest

from lobby.commands import CommandContext, lobby_specs
from lobby.services import CheckInForm, LobbyServices, TicketForm
from mqtt_bridge.alerts import AlertEngine
from mqtt_bridge.clock import ManualClock
from mqtt_bridge.commands import CommandIntake
from tests.services.services_helpers import SHANGHAI, command, events

COMPLAINT = TicketForm(kind="complaint", category="noise", description="楼上夜间装修噪音", contact_phone="13700001234")
URGENT = TicketForm(kind="repair", category="engineering", description="B1 水管爆裂", floor="B1", urgent=True,
                    contact_phone="13700001234")
ORDINARY = TicketForm(kind="repair", category="cleaning", description="地毯污渍", area="大堂 Lobby")


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def intake(services: LobbyServices) -> CommandIntake:
    store = services.ctx.store
    return CommandIntake(store, lobby_specs(CommandContext(services.ctx.cfg, None, AlertEngine(store),
                                                           services.ctx.card_key), services.ctx.clock), 65536)


def update(intake: CommandIntake, number: str, **data: object) -> dict:
    return command(intake, "ticket.update", {"ticket_no": number, **data})


def due(services: LobbyServices, number: str, clock_name: str) -> dt.datetime:
    return {c.clock: c.due for c in services.tickets.get(number).clocks}[clock_name]


def raised(services: LobbyServices) -> list[str]:
    return services.every_minute()["sla"].raised


# ---------------------------------------------------------------------------- complaints and repairs


def test_rule_every_case_gets_a_record_and_a_number(services: LobbyServices) -> None:
    for kind in ("complaint", "repair", "enquiry", "suggestion", "praise", "incident"):
        form = TicketForm(kind=kind, category="other", description="说明", area="大堂 Lobby")
        outcome = services.tickets.create(form)
        assert outcome.ok and outcome.value.ticket_no in outcome.message.zh, kind
    assert len(events(services.ctx.store, "ticket.created")) == 6


def test_rule_complaint_reply_within_2h(services: LobbyServices, intake: CommandIntake, clock: ManualClock) -> None:
    clock.set_wall(at(11, 27, 23, 50))  # filed Friday 23:50: the reply is due Saturday 01:50, weekend or not
    number = services.tickets.create(COMPLAINT).value.ticket_no
    assert due(services, number, "first_reply") == at(11, 28, 1, 50)
    clock.advance(minutes=119)
    assert raised(services) == []
    clock.advance(minutes=1)
    assert raised(services) == [f"ticket.overdue:{number.lower()}:first_reply"]


def test_rule_complaint_reply_agrees_the_next_reply(services: LobbyServices, intake: CommandIntake) -> None:
    number = services.tickets.create(COMPLAINT).value.ticket_no
    assert "next_reply_agreed" in update(intake, number, reply="已收到。")["error"]
    assert update(intake, number, reply="已收到，明早10点前再答复您。", next_reply_by="2026-11-26T10:00:00+08:00")["ok"]
    assert due(services, number, "next_reply") == at(11, 26, 10)


def test_rule_invalid_complaint_reply_within_2h_of_the_verdict(services: LobbyServices, intake: CommandIntake,
                                                               clock: ManualClock) -> None:
    clock.set_wall(at(11, 25, 9, 0))
    number = services.tickets.create(COMPLAINT).value.ticket_no
    clock.advance(hours=1)
    assert update(intake, number, reply="已收到。", next_reply_by="2026-11-25T18:00:00+08:00")["ok"]
    clock.advance(hours=3)  # judged invalid 4 h after filing, at 13:00: reply due 15:00
    assert update(intake, number, valid=False)["ok"]
    assert due(services, number, "verdict_reply") == at(11, 25, 15)
    assert services.ctx.store.scalar("SELECT return_visit_required FROM tickets WHERE ticket_no = ?", (number,)) == 0
    clock.advance(hours=2)
    assert f"ticket.overdue:{number.lower()}:verdict_reply" in raised(services)


def test_rule_tell_everything_missing_at_once(services: LobbyServices) -> None:
    outcome = services.tickets.create(TicketForm(kind="repair", category="nonsense", description=""))
    assert {e.field for e in outcome.errors} >= {"category", "description", "area"}
    assert outcome.message.zh.startswith("对不起") or "请" in outcome.message.zh


def test_rule_urgent_repair_on_site_within_15_min(services: LobbyServices, intake: CommandIntake,
                                                   clock: ManualClock) -> None:
    clock.set_wall(at(11, 26, 2, 0))  # a burst pipe at 02:00
    number = services.tickets.create(URGENT).value.ticket_no
    assert due(services, number, "on_site") == at(11, 26, 2, 15)
    assert due(services, number, "completion") == at(11, 26, 23, 59)  # 不过夜: the same day
    clock.advance(minutes=15)
    alert = f"ticket.overdue:{number.lower()}:on_site"
    assert raised(services) == [alert]
    assert AlertEngine(services.ctx.store).get(alert)["severity"] == "critical"
    assert update(intake, number, status="on_site")["ok"]
    assert AlertEngine(services.ctx.store).get(alert)["state"] == "cleared"


def test_rule_repair_finished_same_day_or_within_24h(services: LobbyServices, clock: ManualClock) -> None:
    clock.set_wall(at(11, 26, 17, 0))  # before same_day_cutoff 18:00: by 23:59 today
    early = services.tickets.create(ORDINARY).value
    assert due(services, early.ticket_no, "completion") == at(11, 26, 23, 59) and "今天23:59前" in early.promise.zh
    clock.set_wall(at(11, 26, 19, 0))  # after the cutoff: within 24 h
    late = services.tickets.create(ORDINARY).value
    assert due(services, late.ticket_no, "completion") == at(11, 27, 19, 0) and "24小时内" in late.promise.zh


def test_rule_overdue_escalates_one_level_at_a_time(services: LobbyServices, clock: ManualClock) -> None:
    number = services.tickets.create(COMPLAINT).value.ticket_no
    clock.advance(hours=2)
    roles = []
    for _ in range(4):
        services.every_minute()
        roles.append(services.tickets.get(number).clocks[0].level)
        clock.advance(minutes=30)
    assert roles == [1, 2, 3, 4]
    assert [e["detail"]["role"] for e in events(services.ctx.store, "alert.escalated")] == [
        "supervisor", "manager", "director"]


def test_rule_valid_complaints_get_a_return_visit_100pct(services: LobbyServices, intake: CommandIntake) -> None:
    numbers = [services.tickets.create(COMPLAINT).value.ticket_no for _ in range(20)]
    for number in numbers:
        assert update(intake, number, reply="已处理。", status="done")["ok"]
        assert "return_visit_before_close" in update(intake, number, status="closed")["error"]
        assert {c.clock: c.state for c in services.tickets.get(number).clocks}["return_visit"] == "running"


def test_rule_return_visit_within_2_working_days(services: LobbyServices, intake: CommandIntake,
                                                 clock: ManualClock) -> None:
    cases = [(at(9, 30, 16), at(10, 9, 16)),  # National Day: 1-7 Oct off
             (at(2, 13, 16), at(2, 24, 16)),  # last working day before Spring Festival: Sat 14 Feb is worked
             (at(11, 27, 23, 50), at(12, 1, 23, 50))]  # done Friday 23:50: Monday and Tuesday
    for done_at, expected in cases:
        clock.set_wall(done_at - dt.timedelta(hours=2))
        number = services.tickets.create(ORDINARY).value.ticket_no
        clock.set_wall(done_at)
        assert update(intake, number, status="done")["ok"]
        assert due(services, number, "return_visit") == expected, done_at


def test_rule_working_days_follow_chinas_calendar(services: LobbyServices) -> None:
    calendar = services.tickets.sla.calendar
    assert calendar.is_workday(dt.date(2026, 2, 14)) and calendar.is_workday(dt.date(2026, 9, 20))  # 调休 weekends
    assert not calendar.is_workday(dt.date(2026, 10, 5)) and not calendar.is_workday(dt.date(2026, 2, 17))


# ---------------------------------------------------------------------------- honest clocks


def test_rule_deadlines_on_an_unsynced_clock_are_durations_then_corrected(services: LobbyServices,
                                                                          clock: ManualClock) -> None:
    clock.set_wall(at(11, 27, 20, 50))  # really 23:50: the clock is 3 h slow and unsynced
    clock.set_synced(False)
    view = services.tickets.create(COMPLAINT).value
    assert view.clocks[0].due_text()[0] == "首次答复：2小时内"
    clock.advance(minutes=5)
    clock.jump_wall(hours=3)
    clock.set_synced(True)
    services.every_minute()
    assert services.tickets.get(view.ticket_no).clocks[0].due == at(11, 28, 1, 50)
    assert events(services.ctx.store, "ticket.sla_corrected")[0]["clocks"]["first_reply"]["due"] == \
        "2026-11-27T17:50:00.000Z"


def test_rule_no_early_alert_across_a_reboot(services: LobbyServices, clock: ManualClock) -> None:
    clock.set_wall(at(11, 25, 10, 0))
    number = services.tickets.create(COMPLAINT).value.ticket_no
    services.every_minute()
    clock.advance(minutes=30)
    services.every_minute()
    clock.reboot(downtime_s=600, synced=False)  # off for 10 min; the clock comes back unsynced
    clock.jump_wall(hours=5)  # and wrong
    assert raised(services) == []
    clock.set_wall(at(11, 25, 10, 41))  # NTP: the truth is 10:41
    clock.set_synced(True)
    assert raised(services) == []
    clock.set_wall(at(11, 25, 12, 0))
    clock.set_synced(True)
    assert raised(services) == [f"ticket.overdue:{number.lower()}:first_reply"]


# ---------------------------------------------------------------------------- visitors


def test_rule_evacuation_lists_everyone_not_signed_out(services: LobbyServices, clock: ManualClock) -> None:
    old = services.visitors.check_in(CheckInForm(name="张伟", phone="13812345678", host_id="h-1203",
                                                 purpose="meeting", consent=True)).value.visit_id
    clock.advance(hours=30)  # in the building for 30 h during the evacuation
    roll = services.rollcall.start(source="staff", reason="火警").value
    assert [e.visit_id for e in roll.entries] == [old] and roll.entries[0].stale
    (event,) = events(services.ctx.store, "visitor.roll_call_started")
    assert event["stale_visits"] == 1


# ---------------------------------------------------------------------------- feedback


def test_rule_satisfaction_target_85pct(services: LobbyServices, clock: ManualClock) -> None:
    day = services.ctx.site_day(clock.instant())
    for face in ["happy"] * 17 + ["unhappy"] * 3:
        services.feedback.press(face)
        clock.advance(minutes=3)
    figures = services.feedback.satisfaction("day", day)
    assert figures.pct == 85.0 and figures.target_pct == 85 and figures.met_target is True


def test_rule_flag_misuse_never_discard(services: LobbyServices, clock: ManualClock) -> None:
    for _ in range(8):
        services.feedback.press("very_unhappy")
        clock.advance(1)
    assert services.ctx.store.scalar("SELECT count(*) FROM feedback WHERE flagged = 1") == 8
    assert len(events(services.ctx.store, "feedback.press")) == 8


def test_rule_never_nudge_toward_a_good_rating(services: LobbyServices, clock: ManualClock) -> None:
    messages = set()
    for face in ("very_unhappy", "unhappy", "happy", "very_happy"):
        outcome = services.feedback.press(face, source="btn-face")
        messages.add((outcome.message.zh, outcome.message.en))
        clock.advance(minutes=5)
    assert len(messages) == 1  # the same thanks whatever the face (GPIO faces ask no reason)


def test_rule_survey_returns_60pct_within_15_working_days(services: LobbyServices, intake: CommandIntake) -> None:
    result = command(intake, "survey.result", {"survey_id": "2026-h1", "handed_out_on": "2026-06-05",
                                               "units_occupied": 100, "handed_out": 100, "returned": 60,
                                               "satisfied": 51})
    assert result["ok"] and result["result"]["met"] == {"handout": True, "return": True, "satisfaction": True}
    assert result["result"]["return_due"] == "2026-06-29"  # Dragon Boat Festival (Fri 19 Jun) is not a working day
