"""Who is in the building, and the evacuation roll call frozen, printed, marked and closed."""

from __future__ import annotations

import pytest

from lobby.services import CheckInForm, LobbyServices
from lobby.commands import lobby_specs
from mqtt_bridge.alerts import AlertEngine
from lobby.commands import CommandContext
from mqtt_bridge.commands import CommandIntake
from tests.services.services_helpers import command, events


def visit(services: LobbyServices, name: str, phone: str, party: int = 1) -> str:
    outcome = services.visitors.check_in(CheckInForm(name=name, phone=phone, host_id="h-1203", purpose="meeting",
                                                     party_size=party, consent=True))
    assert outcome.ok
    return outcome.value.visit_id


@pytest.fixture
def intake(services: LobbyServices) -> CommandIntake:
    store = services.ctx.store
    ctx = CommandContext(services.ctx.cfg, None, AlertEngine(store), services.ctx.card_key)
    return CommandIntake(store, lobby_specs(ctx, services.ctx.clock), 65536)


def test_people_in_the_building_count_party_sizes(services: LobbyServices, clock) -> None:  # noqa: ANN001
    a = visit(services, "张伟", "13812345678", 3)
    b = visit(services, "王芳", "13900001111", 1)
    visit(services, "刘洋", "13700001234", 2)
    services.visitors.check_out(b, "staff")
    live = services.rollcall.in_building()
    assert live.people == 5 and [p.name for p in live.visitors] == ["张伟", "刘洋"]
    assert live.visitors[0].visit_id == a and live.visitors[0].masked_name == "张*"
    clock.advance(hours=25)  # never signed out: still on the list (DOMAIN: however long ago), flagged for checking
    later = services.rollcall.in_building()
    assert later.people == 5 and all(p.stale for p in later.visitors)


def test_evacuation_from_central_freezes_the_list(services: LobbyServices, intake: CommandIntake, clock) -> None:  # noqa: ANN001
    a = visit(services, "张伟", "13812345678", 3)
    b = visit(services, "王芳", "13900001111", 1)
    result = command(intake, "evacuation.start", {"reason": "B1 火警 fire alarm", "drill": True}, cmd_id="evac-1")
    assert result["ok"] and result["result"]["people"] == 4 and result["result"]["already_open"] is False
    assert services.ctx.store.scalar("SELECT state FROM commands WHERE id = 'evac-1'") == "done"
    again = command(intake, "evacuation.start", {})
    assert again["result"]["roll_call_id"] == result["result"]["roll_call_id"] and again["result"]["already_open"]
    visit(services, "迟到者", "13600000000")  # arrives after the freeze: not on this list
    roll = services.rollcall.current()
    assert roll.total == 4 and roll.drill and roll.reason == "B1 火警 fire alarm"
    assert [e.name for e in roll.entries] == ["张伟", "王芳"] and roll.unaccounted == 4
    assert services.rollcall.mark_safe(a, count=2).value.safe == 2
    assert services.rollcall.mark_safe(b).value.safe == 3
    assert services.rollcall.mark_safe(b, safe=False).value.safe == 2
    assert services.rollcall.mark_safe("not-a-visit").status == "not_on_list"
    clock.advance(minutes=12)
    ended = command(intake, "evacuation.end", {})
    assert ended["ok"] and ended["result"] == {"roll_call_id": roll.id, "total": 4, "safe": 2, "unaccounted": 2}
    (closed,) = events(services.ctx.store, "visitor.roll_call_closed")
    assert closed == {"roll_call_id": roll.id, "total": 4, "safe": 2, "unaccounted": 2, "source": "central",
                      "drill": True, "started_at": "2026-11-25T02:00:00.000Z", "closed_at": "2026-11-25T02:12:00.000Z",
                      "duration_s": 720}
    (started,) = events(services.ctx.store, "visitor.roll_call_started")
    assert started["people"] == 4 and "张伟" not in str(started) and "张伟" not in str(closed)
    no_roll = command(intake, "evacuation.end", {})
    assert no_roll["ok"] is False and no_roll["error"].startswith("no roll call is open")
    assert services.rollcall.mark_safe(a).status == "no_roll_call"


def test_staff_start_print_and_close(make_services, badge_printer, sim_printer) -> None:  # noqa: ANN001
    from drivers.printer.sim import SimPaper

    services = make_services(printer=badge_printer)
    visit(services, "张伟", "13812345678", 2)
    opened = services.rollcall.start(reason="drill", drill=True)
    assert opened.ok and "2" in opened.message.zh
    printed = services.rollcall.print()
    assert printed.ok and printed.status == "printed"
    sim_printer.set_state(paper=SimPaper.OUT)
    held = services.rollcall.print()
    assert held.status == "print_held" and "屏幕" in held.message.zh
    closed = services.rollcall.close(by="s-01")
    assert closed.ok and "未确认2人" in closed.message.zh and closed.value.state == "closed"
    assert services.rollcall.close().status == "no_roll_call"
    assert events(services.ctx.store, "visitor.roll_call_closed")[0]["source"] == "staff"


def test_no_printer_means_the_screen(services: LobbyServices) -> None:
    assert services.rollcall.print().status == "no_printer"


def test_defect_a_visitor_in_the_building_for_30_hours_is_on_the_evacuation_list(make_services, clock) -> None:  # noqa: ANN001
    from drivers.printer import roll_call_blocks

    class Lists:
        def __init__(self) -> None:
            self.rolls: list = []

        def print_roll_call(self, roll):  # noqa: ANN001, ANN202
            from drivers.printer.printer import PrintResult

            self.rolls.append(roll)
            return PrintResult("job-1", "roll_call", True)

    printer = Lists()
    services = make_services(printer=printer)
    old = visit(services, "张伟", "13812345678", 2)
    clock.advance(hours=30)
    new = visit(services, "王芳", "13900001111")
    started = services.rollcall.start(source="staff", reason="fire alarm 火警")
    assert started.ok and started.value.total == 3
    entries = {e.visit_id: e for e in started.value.entries}
    assert entries[old].stale and not entries[new].stale
    assert services.rollcall.stale_flag() == ("超过24小时，请核实", "over 24 h, verify")
    (event,) = events(services.ctx.store, "visitor.roll_call_started")
    assert event["people"] == 3 and event["stale_visits"] == 1 and event["stale_visit_ids"] == [old]
    assert services.rollcall.print().ok
    printed = [b.text for b in roll_call_blocks(printer.rolls[-1]) if hasattr(b, "text")]
    assert any("张伟" in line and "超过24小时，请核实 · over 24 h, verify" in line for line in printed)
    assert not any("王芳" in line and "超过24小时" in line for line in printed)
