"""Issue #14: working days follow China's official calendar (holidays off, make-up weekends on).

The library's data was checked for these years: chinesecalendar 1.11.0 carries the State Council's
notice for 2026 (Spring Festival 15-23 Feb, worked Sat 14 and Sat 28 Feb; National Day 1-7 Oct,
worked Sun 20 Sep and Sat 10 Oct) and nothing for 2027, so 2027 is estimated and says so.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lobby.commands import CommandContext, lobby_specs
from lobby.doctor import calendar_check
from lobby.doctor.base import Context, Status
from lobby.services import LobbyServices, TicketForm
from lobby.services.workdays import LIBRARY_LAST_YEAR, WorkingCalendar
from mqtt_bridge.alerts import AlertEngine
from mqtt_bridge.clock import ManualClock
from mqtt_bridge.commands import CommandIntake
from tests.services.services_helpers import SHANGHAI, command, events

REPAIR = TicketForm(kind="repair", category="cleaning", description="地毯污渍", area="大堂 Lobby")


def at(y: int, m: int, d: int, h: int = 16) -> dt.datetime:
    return dt.datetime(y, m, d, h, 0, tzinfo=SHANGHAI)


def return_visit_due(make_services, clock: ManualClock, done: dt.datetime, extra: str = ""):  # noqa: ANN001, ANN201
    services = make_services(extra)
    clock.set_wall(done - dt.timedelta(hours=1))
    number = services.tickets.create(REPAIR).value.ticket_no
    clock.set_wall(done)
    store = services.ctx.store
    intake = CommandIntake(store, lobby_specs(CommandContext(services.ctx.cfg, None, AlertEngine(store),
                                                             services.ctx.card_key), clock), 65536)
    assert command(intake, "ticket.update", {"ticket_no": number, "status": "done"})["ok"]
    return {c.clock: c for c in services.tickets.get(number).clocks}["return_visit"]


def test_defect_national_day_2026_is_not_working_days(make_services, clock: ManualClock) -> None:  # noqa: ANN001
    # done Wed 30 Sep 2026: 1-7 Oct are off (National Day), Thu 8 and Fri 9 Oct are the two working days
    due = return_visit_due(make_services, clock, at(2026, 9, 30))
    assert due.due == at(2026, 10, 9) and not due.estimated


def test_defect_spring_festival_2026_counts_the_make_up_saturday(make_services, clock: ManualClock) -> None:  # noqa: ANN001
    # done Fri 13 Feb 2026, the last working day before the holiday: Sat 14 Feb is worked (调休),
    # 15-23 Feb are off, Tue 24 Feb is the second working day
    due = return_visit_due(make_services, clock, at(2026, 2, 13))
    assert due.due == at(2026, 2, 24)


def test_make_up_working_days_of_2026_are_working_days() -> None:
    cal = WorkingCalendar()
    for day in ("2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"):
        info = cal.day(dt.date.fromisoformat(day))
        assert info.workday and info.basis == "official", day
    for day in ("2026-02-16", "2026-02-17", "2026-02-23", "2026-10-01", "2026-10-07"):
        assert not cal.is_workday(dt.date.fromisoformat(day)), day


def test_spring_festival_2027_is_estimated_out_loud_until_central_pushes_it(make_services,
                                                                           clock: ManualClock) -> None:  # noqa: ANN001
    assert LIBRARY_LAST_YEAR == 2026, "the library now knows 2027: check its data and update this test"
    # done Thu 4 Feb 2027: the library has no 2027 notice, so the deadline is estimated and says so
    due = return_visit_due(make_services, clock, at(2027, 2, 4))
    assert due.estimated and due.due == at(2027, 2, 8)
    assert "（按估算日历）" in due.due_text()[0] and "(estimated calendar)" in due.due_text()[1]
    # central pushes 2027's notice as policy (an invented example, not the real notice): Fri 5 and
    # Mon 8 - Thu 11 Feb off, Sat 13 Feb worked; the year then counts as central's, not estimated
    pushed = ('[service]\ncalendar_years = [2027]\nholidays = ["2027-02-05", "2027-02-08", "2027-02-09", '
              '"2027-02-10", "2027-02-11"]\nextra_workdays = ["2027-02-13"]\n')
    due = return_visit_due(make_services, clock, at(2027, 2, 4), pushed)
    assert not due.estimated and due.due == at(2027, 2, 13)


def test_central_corrections_win_over_the_library() -> None:
    cal = WorkingCalendar(holidays=["2026-11-30"], workdays=["2026-11-29"])
    assert cal.is_workday(dt.date(2026, 11, 29)) and cal.day(dt.date(2026, 11, 29)).basis == "central"
    assert not cal.is_workday(dt.date(2026, 11, 30))


def test_estimated_years_keep_the_fixed_statutory_days_off() -> None:
    cal = WorkingCalendar()
    for day in ("2027-01-01", "2027-10-01", "2027-10-04"):
        info = cal.day(dt.date.fromisoformat(day))
        assert info.basis == "estimated"
    assert not cal.is_workday(dt.date(2027, 10, 1)) and not cal.is_workday(dt.date(2027, 5, 1))


@settings(max_examples=300, deadline=None)
@given(start=st.dates(dt.date(2025, 1, 1), dt.date(2027, 12, 31)), days=st.integers(1, 10))
def test_working_day_counts_land_on_working_days_and_count_exactly(start: dt.date, days: int) -> None:
    cal = WorkingCalendar()
    begin = dt.datetime.combine(start, dt.time(11, 30), SHANGHAI)
    due, basis = cal.add_working_days(begin, days)
    assert due.time() == begin.time() and cal.is_workday(due.date())
    between = [start + dt.timedelta(days=i) for i in range(1, (due.date() - start).days + 1)]
    assert sum(cal.is_workday(d) for d in between) == days
    assert (basis == "estimated") == any(cal.day(d).basis == "estimated" for d in between)


@pytest.mark.parametrize(("today", "state", "status"), [
    (dt.date(2026, 6, 1), "ok", Status.OK), (dt.date(2026, 10, 1), "running_out", Status.WARN),
    (dt.date(2027, 1, 2), "expired", Status.WARN)])
def test_doctor_and_alert_warn_before_the_calendar_runs_out(make_services, clock: ManualClock, tmp_path: Path,
                                                            today: dt.date, state: str, status: Status) -> None:  # noqa: ANN001
    services: LobbyServices = make_services()
    (result,) = calendar_check.run(Context(services.ctx.cfg, tmp_path / "c.toml"), today)
    assert result.status is status and str(LIBRARY_LAST_YEAR) in result.message
    clock.set_wall(dt.datetime.combine(today, dt.time(9), SHANGHAI))
    services.every_minute()
    alert = AlertEngine(services.ctx.store).get("service.calendar")
    if state == "ok":
        assert alert is None
    else:
        assert alert["state"] == "active"
        assert alert["severity"] == ("warning" if state == "running_out" else "critical")
    services.every_minute()
    assert len([e for e in events(services.ctx.store, "alert.raised") if e["key"] == "service.calendar"]) == \
        (0 if state == "ok" else 1)


def test_a_pushed_next_year_clears_the_calendar_alert(make_services, clock: ManualClock) -> None:  # noqa: ANN001
    clock.set_wall(at(2026, 12, 1, 9))
    services = make_services()
    services.every_minute()
    assert AlertEngine(services.ctx.store).get("service.calendar")["state"] == "active"
    pushed = make_services("[service]\ncalendar_years = [2027]\n")
    pushed.every_minute()
    assert AlertEngine(services.ctx.store).get("service.calendar")["state"] == "cleared"


def test_a_day_cannot_be_both_off_and_worked(make_cfg) -> None:  # noqa: ANN001
    from lobby.config import ConfigError

    with pytest.raises(ConfigError, match="both holidays and extra_workdays"):
        make_cfg('[service]\nholidays = ["2026-11-29"]\nextra_workdays = ["2026-11-29"]\n')
