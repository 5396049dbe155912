"""Issue #14 over a real mosquitto: central sees the escalation level (retained alert and event), the
re-anchored deadline of a ticket filed on an unsynced clock, and its survey results come back as events.
Every message is validated against the contract by the Central helper."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lobby.config import load_config
from lobby.runtime import Runtime
from lobby.services import LobbyServices, TicketForm
from mqtt_bridge.clock import ManualClock
from mqtt_bridge.timebase import utc_now
from tests.helpers.broker import Broker
from tests.helpers.central import Central

COMPLAINT = TicketForm(kind="complaint", category="noise", description="楼上噪音", contact_phone="13700001234")


@pytest.fixture
def setup(broker: Broker, write_config) -> Iterator[tuple[Runtime, Central, LobbyServices, ManualClock]]:  # noqa: ANN001
    path: Path = write_config(broker.port)
    rt = Runtime(load_config(path), path)
    central = Central(broker.port, rt.cfg.base_topic)
    rt.start()
    central.wait_for(lambda: f"{rt.cfg.base_topic}/status" in central.retained, what="gateway online")
    clock = ManualClock(utc_now())
    services = LobbyServices(rt.store, rt.cfg, card_key=rt.card_key, clock=clock, alerts=rt.alerts)
    yield rt, central, services, clock
    rt.stop()
    central.close()
    assert central.invalid == [], central.invalid


def test_central_sees_each_escalation_level_on_the_retained_alert(setup) -> None:  # noqa: ANN001
    rt, central, services, clock = setup
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


def test_central_gets_the_corrected_deadline_of_a_ticket_filed_unsynced(setup) -> None:  # noqa: ANN001
    rt, central, services, clock = setup
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


def test_survey_results_from_central_are_checked_and_published(setup) -> None:  # noqa: ANN001
    _rt, central, _services, _clock = setup
    result = central.command("survey.result", {"survey_id": "2026-h2", "handed_out_on": "2026-11-02",
                                               "units_occupied": 300, "handed_out": 300, "returned": 200,
                                               "satisfied": 150})
    assert result["ok"] and result["result"]["met"] == {"handout": True, "return": True, "satisfaction": False}
    central.wait_for(lambda: central.events_of("feedback.survey"), what="feedback.survey")
    assert central.events_of("feedback.survey")[0]["data"]["satisfaction_pct"] == 75.0
