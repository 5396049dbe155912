"""Issue #14 over a real mosquitto: central sees the escalation level (retained alert and event), the
re-anchored deadline of a ticket filed on an unsynced clock, and its survey results come back as events.
Every message is validated against the contract by the Central helper."""

from __future__ import annotations

import datetime as dt
import json

from lobby.services import TicketForm

COMPLAINT = TicketForm(kind="complaint", category="noise", description="楼上噪音", contact_phone="13700001234")


def test_central_sees_each_escalation_level_on_the_retained_alert(on_broker) -> None:  # noqa: ANN001
    rt, central, services, clock = on_broker
    number = services.tickets.create(COMPLAINT).value.ticket_no
    key = f"ticket.overdue:{number.lower()}:first_reply"
    topic = f"{rt.cfg.base_topic}/alerts/{key}"
    clock.advance(hours=2)
    services.every_minute()
    clock.advance(minutes=30)
    services.every_minute()
    rt.bridge.wake()

    def level() -> int | None:
        payload = central.retained.get(topic)
        return json.loads(payload)["detail"]["level"] if payload else None

    central.wait_for(lambda: level() == 2, what="the retained alert at level 2")
    retained = json.loads(central.retained[topic])
    assert retained["detail"]["role"] == "supervisor" and "客服主管" in retained["title"] and not retained["acked"]
    central.wait_for(lambda: central.events_of("alert.escalated"), what="alert.escalated")
    assert central.events_of("alert.escalated")[0]["data"]["detail"]["level"] == 2


def test_central_gets_the_corrected_deadline_of_a_ticket_filed_unsynced(on_broker) -> None:  # noqa: ANN001
    rt, central, services, clock = on_broker
    clock.jump_wall(hours=-3)
    clock.set_synced(False)
    number = services.tickets.create(COMPLAINT).value.ticket_no
    clock.advance(minutes=10)
    clock.jump_wall(hours=3)
    clock.set_synced(True)
    services.every_minute()
    rt.bridge.wake()
    central.wait_for(lambda: central.events_of("ticket.sla_corrected"), what="ticket.sla_corrected")
    created = next(e for e in central.events_of("ticket.created") if e["data"]["ticket_no"] == number)
    assert created["data"]["due_provisional"] is True
    fix = central.events_of("ticket.sla_corrected")[0]["data"]
    due = dt.datetime.fromisoformat(fix["clocks"]["first_reply"]["due"].replace("Z", "+00:00"))
    assert fix["ticket_no"] == number and fix["exact"] is True
    assert abs((due - clock.instant().wall).total_seconds() - (110 * 60)) < 1


def test_survey_results_from_central_are_checked_and_published(on_broker) -> None:  # noqa: ANN001
    _rt, central, _services, _clock = on_broker
    result = central.command("survey.result", {"survey_id": "2026-h2", "handed_out_on": "2026-11-02",
                                               "units_occupied": 300, "handed_out": 300, "returned": 200,
                                               "satisfied": 150})
    assert result["ok"] and result["result"]["met"] == {"handout": True, "return": True, "satisfaction": False}
    central.wait_for(lambda: central.events_of("feedback.survey"), what="feedback.survey")
    assert central.events_of("feedback.survey")[0]["data"]["satisfaction_pct"] == 75.0
