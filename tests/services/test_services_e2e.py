"""End to end through mosquitto: central sees valid visitor, ticket and feedback events and its commands act."""

from __future__ import annotations

import datetime as dt

from lobby.services import CheckInForm, TicketForm
from mqtt_bridge.timebase import utc_now
from tests.helpers.central import Central


def wait_event(central: Central, type_: str, count: int = 1) -> list[dict]:
    central.wait_for(lambda: len(central.events_of(type_)) >= count, what=f"{count} {type_}")
    return central.events_of(type_)


def test_lobby_flows_end_to_end(on_broker) -> None:  # noqa: ANN001
    rt, central, services, clock = on_broker
    assert central.command("directory.update", {"entries": [
        {"id": "h-1203", "unit": "12F-1203", "company": "华润置地", "person": "李娜"}]})["ok"]

    # a walk-in visitor: central gets what it needs to tell the host, and the host's reply comes back
    visit = services.visitors.check_in(CheckInForm(name="张伟", phone="13812345678", host_id="h-1203",
                                                   purpose="meeting", party_size=2, consent=True)).value
    rt.bridge.wake()
    (checked_in,) = wait_event(central, "visitor.checked_in")
    assert checked_in["data"]["visit_id"] == visit.visit_id and checked_in["data"]["phone"] == "138****5678"
    ack = central.command("visitor.host_ack", {"visit_id": visit.visit_id, "message": "马上下来", "eta_min": 3})
    assert ack["ok"] and services.visitors.get(visit.visit_id).host_ack.message == "马上下来"

    # an invited visitor
    start = utc_now().replace(microsecond=0)
    invite = {"invite_id": "inv-e2e", "code": "42424242", "visitor_name": "陈静", "visitor_phone": "13900001111",
              "host_id": "h-1203", "purpose": "interview", "valid_from": start.isoformat()}
    assert central.command("visitor.invite", invite)["ok"]
    found = services.invitations.find("42424242")
    assert found.ok and services.invitations.confirm(found.value.invitation_id, consent=True).ok
    wait_event(central, "visitor.checked_in", 2)

    # evacuation from central, then check-out
    started = central.command("evacuation.start", {"reason": "drill", "drill": True})
    assert started["ok"] and started["result"]["people"] == 3
    services.rollcall.mark_safe(visit.visit_id)
    ended = central.command("evacuation.end", {})
    assert ended["result"] == {"roll_call_id": started["result"]["roll_call_id"], "total": 3, "safe": 2,
                               "unaccounted": 1}
    assert services.visitors.check_out_by_pass(visit.pass_no).status == "checked_out"
    rt.bridge.wake()
    wait_event(central, "visitor.roll_call_closed")
    wait_event(central, "visitor.checked_out")

    # a complaint: number, reply from central, lookup at the kiosk
    ticket = services.tickets.create(TicketForm(kind="complaint", category="cleaning", description="电梯厅有垃圾",
                                                contact_phone="13700001234")).value
    next_reply = (utc_now() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")  # agreed with the tenant
    result = central.command("ticket.update", {"ticket_no": ticket.ticket_no, "status": "assigned",
                                               "reply": "已安排保洁，30分钟内处理。", "next_reply_by": next_reply})
    assert result["ok"] and result["result"]["status"] == "assigned"
    shown = services.tickets.lookup(ticket.ticket_no)
    assert shown.ok and shown.value.replies[0].text == "已安排保洁，30分钟内处理。"
    impossible = central.command("ticket.update", {"ticket_no": ticket.ticket_no, "status": "received"})
    assert impossible["ok"] is False and "cannot move from assigned to received" in impossible["error"]
    rt.bridge.wake()
    assert wait_event(central, "ticket.created")[0]["data"]["contact"]["phone"] == "137****1234"
    wait_event(central, "ticket.updated")

    # feedback, and yesterday's satisfaction published once
    clock.jump_wall(days=-1)
    for face in ("happy", "very_happy", "unhappy"):
        services.feedback.press(face)
        clock.advance(30)
    clock.jump_wall(days=1)
    services.daily()
    services.daily()
    rt.bridge.wake()
    (daily,) = wait_event(central, "feedback.daily")
    assert daily["data"]["satisfaction_pct"] == 66.7 and daily["data"]["met_target"] is False
    wait_event(central, "feedback.press", 3)

    # everything published so far arrived once, valid against the schemas (checked at teardown)
    last = rt.store.scalar("SELECT value FROM counters WHERE name = 'seq'")
    rt.bridge.wake()
    central.wait_seqs(last)
    assert central.tracker.duplicates == 0
    assert dt.datetime.fromisoformat(checked_in["ts"].replace("Z", "+00:00")).tzinfo is not None
