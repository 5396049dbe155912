"""Issue #14: the ticket rules hold by construction (state machine guards, honest clocks, escalation).

Each test named test_defect_* reproduces one finding of the audit and fails on the code before the fix.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from lobby.commands import CommandContext, lobby_specs
from lobby.services import LobbyServices, TicketForm
from lobby.services.ticket_rules import RULES, Move, Refused, TicketFacts, check
from mqtt_bridge.alerts import AlertEngine
from mqtt_bridge.clock import ManualClock
from mqtt_bridge.commands import CommandIntake
from tests.services.services_helpers import SHANGHAI, command, events

COMPLAINT = TicketForm(kind="complaint", category="noise", description="楼上夜间装修噪音", contact_name="刘洋",
                       contact_phone="13700001234")
ANONYMOUS = TicketForm(kind="complaint", category="cleaning", description="电梯厅有垃圾")
REPAIR = TicketForm(kind="repair", category="cleaning", description="地毯污渍", area="大堂 Lobby",
                    contact_phone="13700001234")


@pytest.fixture
def intake(services: LobbyServices) -> CommandIntake:
    store = services.ctx.store
    ctx = CommandContext(services.ctx.cfg, None, AlertEngine(store), services.ctx.card_key)
    return CommandIntake(store, lobby_specs(ctx, services.ctx.clock), 65536)


def update(intake: CommandIntake, number: str, **data: object) -> dict:
    return command(intake, "ticket.update", {"ticket_no": number, **data})


def overdue_keys(services: LobbyServices) -> list[str]:
    return [e["key"] for e in events(services.ctx.store, "alert.raised") if e["key"].startswith("ticket.overdue")]


# ---------------------------------------------------------------------------- the return visit cannot be skipped


def test_defect_valid_complaint_closed_from_received_without_return_visit(services: LobbyServices,
                                                                           intake: CommandIntake) -> None:
    number = services.tickets.create(COMPLAINT).value.ticket_no
    for start in ([], ["assigned"]):
        for status in start:
            assert update(intake, number, status=status)["ok"]
        refused = update(intake, number, status="closed")
        assert refused["ok"] is False and "rule return_visit_before_close" in refused["error"]
        assert "13700001234" not in refused["error"] and "刘洋" not in refused["error"]
    assert services.tickets.get(number).status == "assigned"


def test_repair_closes_only_after_its_return_visit(services: LobbyServices, intake: CommandIntake) -> None:
    number = services.tickets.create(REPAIR).value.ticket_no
    assert update(intake, number, status="closed")["ok"] is False
    assert update(intake, number, status="done")["ok"]
    assert "return_visit_before_close" in update(intake, number, status="closed")["error"]
    assert update(intake, number, status="return_visit_done")["ok"]
    assert update(intake, number, status="closed")["ok"]
    assert services.ctx.store.scalar("SELECT return_visit_ts IS NOT NULL FROM tickets WHERE ticket_no = ?", (number,))


def test_exemption_reasons_come_from_an_allow_list(services: LobbyServices, intake: CommandIntake) -> None:
    with_contact = services.tickets.create(COMPLAINT).value.ticket_no
    refused = update(intake, with_contact, return_visit_exempt="anonymous")
    assert refused["ok"] is False and "rule exemption_reason" in refused["error"]
    assert update(intake, with_contact, return_visit_exempt="tenant_refused", status="closed")["ok"]
    anonymous = services.tickets.create(ANONYMOUS).value.ticket_no
    assert update(intake, anonymous, status="done")["ok"]
    assert update(intake, anonymous, return_visit_exempt="anonymous")["ok"]
    clocks = {c.clock: c.state for c in services.tickets.get(anonymous).clocks}
    assert clocks["return_visit"] == "cancelled"
    assert update(intake, anonymous, status="closed")["ok"]
    enquiry = services.tickets.create(TicketForm(kind="enquiry", category="other", description="快递放哪里")).value
    not_owed = update(intake, enquiry.ticket_no, return_visit_exempt="tenant_refused")
    assert not_owed["ok"] is False and "exemption_reason" in not_owed["error"]
    unknown = update(intake, enquiry.ticket_no, return_visit_exempt="too_busy")
    assert unknown["ok"] is False and "not one of" in unknown["error"]  # the schema's allow-list
    updated = events(services.ctx.store, "ticket.updated")
    assert [e.get("return_visit_exempt") for e in updated if "return_visit_exempt" in e] == ["tenant_refused",
                                                                                            "anonymous"]


def test_a_reply_to_an_unsettled_complaint_agrees_the_next_reply(services: LobbyServices,
                                                                 intake: CommandIntake) -> None:
    number = services.tickets.create(COMPLAINT).value.ticket_no
    bare = update(intake, number, reply="已收到，正在处理。")
    assert bare["ok"] is False and "rule next_reply_agreed" in bare["error"]
    assert services.ctx.store.scalar("SELECT count(*) FROM ticket_updates") == 0
    assert update(intake, number, reply="已收到，明天上午答复。", next_reply_by="2026-11-26T10:00:00+08:00")["ok"]
    assert update(intake, number, reply="已处理完毕。", status="done")["ok"]  # settled: no next reply to agree


def test_every_refusal_names_its_rule_in_both_languages() -> None:
    facts = TicketFacts("ABCD23", "complaint", "received", True, False, None, True, None)
    with pytest.raises(Refused) as caught:
        check(facts, Move(status="closed"), dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc))
    refusal = caught.value
    assert refusal.rule is RULES["return_visit_before_close"]
    assert refusal.message.zh.startswith("对不起，") and "回访" in refusal.message.zh
    assert refusal.message.en.startswith("Sorry, ") and "return visit" in refusal.message.en
    assert refusal.central.startswith("ticket ABCD23: refused by rule return_visit_before_close")
    for rule in RULES.values():
        assert rule.zh and rule.en and rule.id.isidentifier()


# ---------------------------------------------------------------------------- the invalid-complaint reply clock


def test_defect_invalid_complaint_reply_clock_starts_at_the_verdict(services: LobbyServices, intake: CommandIntake,
                                                                     clock: ManualClock) -> None:
    clock.set_wall(dt.datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI))
    number = services.tickets.create(COMPLAINT).value.ticket_no
    clock.advance(hours=2)  # 11:00: replied in time, next reply agreed
    assert update(intake, number, reply="已收到。", next_reply_by="2026-11-26T10:00:00+08:00")["ok"]
    clock.advance(hours=4)  # 15:00: judged invalid
    assert update(intake, number, valid=False)["ok"]
    verdict = {c.clock: c for c in services.tickets.get(number).clocks}["verdict_reply"]
    assert verdict.state == "running" and verdict.due == dt.datetime(2026, 11, 25, 17, 0, tzinfo=SHANGHAI)
    clock.advance(minutes=119)
    assert services.every_minute()["sla"].raised == []
    clock.advance(minutes=1)
    assert services.every_minute()["sla"].raised == [f"ticket.overdue:{number.lower()}:verdict_reply"]
    assert update(intake, number, reply="经核实，该投诉不属于物业责任范围，已向您说明。", status="closed")["ok"]
    assert {c.clock: c.state for c in services.tickets.get(number).clocks}["verdict_reply"] == "met"


# ---------------------------------------------------------------------------- an unsynced clock


class _Receipts:
    """A printer that keeps what it was asked to print."""

    def __init__(self) -> None:
        self.receipts: list = []

    def print_ticket(self, receipt):  # noqa: ANN001, ANN201
        from drivers.printer.printer import PrintResult

        self.receipts.append(receipt)
        return PrintResult("job-1", "ticket", True)


def test_defect_unsynced_clock_promise_is_a_duration_and_is_corrected(make_services, clock: ManualClock) -> None:  # noqa: ANN001
    from drivers.printer import ticket_blocks

    printer = _Receipts()
    services = make_services(printer=printer)
    real = dt.datetime(2026, 11, 27, 23, 50, tzinfo=SHANGHAI)  # Friday 23:50
    clock.set_wall(real - dt.timedelta(hours=3))  # the Pi's clock is 3 h slow and knows it is unsynced
    clock.set_synced(False)
    view = services.tickets.create(COMPLAINT).value
    (first,) = view.clocks
    assert first.provisional and first.due_text() == ("首次答复：2小时内", "First reply: within 2 hours")
    assert "22:50" not in view.promise.zh and "2小时内" in view.promise.zh
    services.tickets.print_receipt(view.ticket_no)
    (receipt,) = printer.receipts
    printed = " ".join(getattr(b, "text", "") for b in ticket_blocks(receipt, SHANGHAI))
    assert receipt.deadline is None and "答复时限 Reply: 2小时内 within 2 hours" in printed and "22:50" not in printed
    (created,) = events(services.ctx.store, "ticket.created")
    assert created["due_provisional"] is True and created["due_in_s"] == {"first_reply": 7200.0}
    clock.advance(minutes=20)
    clock.jump_wall(hours=3)  # NTP syncs: the wall clock steps to the truth
    clock.set_synced(True)
    report = services.every_minute()["sla"]
    assert report.corrected == 1 and report.raised == []
    (fix,) = events(services.ctx.store, "ticket.sla_corrected")
    assert fix["exact"] is True and fix["clocks"]["first_reply"]["due"] == "2026-11-27T17:50:00.000Z"
    assert fix["created_at"] == "2026-11-27T15:50:00.000Z"
    fixed = services.tickets.get(view.ticket_no)
    assert not fixed.clocks[0].provisional and fixed.clocks[0].due == real + dt.timedelta(hours=2)
    assert fixed.created == real
    clock.advance(minutes=99)
    assert services.every_minute()["sla"].raised == []
    clock.advance(minutes=1)
    assert len(services.every_minute()["sla"].raised) == 1


def test_defect_no_false_overdue_after_reboot_with_an_unsynced_start(services: LobbyServices,
                                                                      clock: ManualClock) -> None:
    clock.set_wall(dt.datetime(2026, 11, 27, 20, 50, tzinfo=SHANGHAI))  # really 23:50: 3 h slow
    clock.set_synced(False)
    number = services.tickets.create(COMPLAINT).value.ticket_no
    services.every_minute()
    clock.advance(minutes=10)
    services.every_minute()
    clock.reboot(downtime_s=60, synced=False)  # the reboot loses the monotonic reference
    clock.advance(minutes=20)
    clock.jump_wall(hours=3)  # 00:21 true time, now synced: the provisional 22:50 lies in the "past"
    clock.set_synced(True)
    report = services.every_minute()["sla"]
    assert report.raised == [] and report.corrected == 1
    (fix,) = events(services.ctx.store, "ticket.sla_corrected")
    assert fix["exact"] is False  # after a reboot: the latest start the evidence allows
    due = dt.datetime.fromisoformat(fix["clocks"]["first_reply"]["due"].replace("Z", "+00:00"))
    assert due >= dt.datetime(2026, 11, 28, 1, 50, tzinfo=SHANGHAI)  # never earlier than the truth
    clock.advance(hours=1)
    assert services.every_minute()["sla"].raised == []
    clock.advance(hours=1)
    assert services.every_minute()["sla"].raised == [f"ticket.overdue:{number.lower()}:first_reply"]


def test_after_a_reboot_an_unsynced_wall_clock_alone_never_fires(services: LobbyServices, clock: ManualClock) -> None:
    services.tickets.create(COMPLAINT)
    services.every_minute()
    clock.reboot(downtime_s=60, synced=False)
    clock.jump_wall(days=2)  # a wrong manual setting, not synced: no evidence
    assert services.every_minute()["sla"].raised == []
    clock.advance(minutes=118)  # seen: 118 min of this boot, under 2 h of sure elapsed time
    assert services.every_minute()["sla"].raised == []
    clock.advance(minutes=2)  # 120 min seen in this boot alone: certainly overdue
    assert len(services.every_minute()["sla"].raised) == 1


# ---------------------------------------------------------------------------- escalation


def test_overdue_escalates_one_level_at_a_time_naming_the_role(services: LobbyServices, intake: CommandIntake,
                                                                clock: ManualClock) -> None:
    number = services.tickets.create(COMPLAINT).value.ticket_no
    key = f"ticket.overdue:{number.lower()}:first_reply"
    alerts = AlertEngine(services.ctx.store)
    clock.advance(hours=2)
    assert services.every_minute()["sla"].raised == [key]
    seen = [(alerts.get(key)["title"], json.loads(alerts.get(key)["detail"])["role"])]
    assert alerts.ack(key, "central")
    for _ in range(4):
        clock.advance(minutes=29)
        assert services.every_minute()["sla"].escalated == []
        clock.advance(minutes=1)
        report = services.every_minute()["sla"]
        row = alerts.get(key)
        seen.append((row["title"], json.loads(row["detail"])["role"]))
        if len(seen) == 5:
            assert report.escalated == []
        else:
            assert report.escalated == [key] and not row["acked"]
    assert [role for _, role in seen] == ["staff", "supervisor", "manager", "director", "director"]
    assert "第2级 客服主管" in seen[1][0] and "level 2, supervisor" in seen[1][0]
    assert "管理处主任" in seen[3][0] and alerts.get(key)["severity"] == "critical"
    escalated = [e for e in events(services.ctx.store, "alert.escalated") if e["key"] == key]
    assert [e["detail"]["level"] for e in escalated] == [2, 3, 4]
    assert update(intake, number, reply="已处理。", status="done")["ok"]
    assert alerts.get(key)["state"] == "cleared"


def test_after_a_long_outage_escalation_still_climbs_one_level_per_check(services: LobbyServices,
                                                                         clock: ManualClock) -> None:
    number = services.tickets.create(COMPLAINT).value.ticket_no
    clock.advance(hours=6)  # nobody checked for 6 h
    levels = []
    for _ in range(5):
        services.every_minute()
        levels.append(services.tickets.get(number).clocks[0].level)
    assert levels == [1, 2, 3, 4, 4]
