"""The gateway's complaint buttons, end to end: mock pin -> ticket on the broker -> LED."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.gpio.sim import GpioControlClient
from lobby.config import load_config
from lobby.gateway.assemble import build_gateway
from lobby.gateway.service import GatewayService
from tests.helpers.broker import Broker
from tests.helpers.central import Central
from tests.helpers.site_config import gpio_panel

BUTTONS = gpio_panel(repeat_window_s=600, stuck_after_s=3)


@pytest.fixture
def running(broker: Broker, write_config) -> Iterator[tuple[GatewayService, Central, GpioControlClient]]:  # noqa: ANN001
    path = write_config(broker.port, extra=BUTTONS)
    cfg = load_config(path)
    central = Central(broker.port, cfg.base_topic)
    gateway = build_gateway(cfg, path, simulate=True)
    gateway.start()
    central.wait_for(lambda: f"{cfg.base_topic}/status" in central.retained, what="gateway online")
    panel = GpioControlClient(Path(cfg.state_dir) / "sim" / "gpio.sock")
    yield gateway, central, panel
    panel.close()
    gateway.stop()
    central.close()
    assert central.invalid == [], central.invalid


def _leds(panel: GpioControlClient) -> dict[str, str]:
    return {k: v["pattern"] for k, v in panel.leds().items()}


def test_press_opens_one_ticket_repeats_join_it_and_the_led_follows_central(running) -> None:  # noqa: ANN001
    gateway, central, panel = running
    panel.click("btn-toilet")
    central.wait_for(lambda: central.events_of("ticket.created"), what="ticket on the broker")
    ticket = central.events_of("ticket.created")[0]["data"]
    assert ticket["source"] == "btn-toilet" and ticket["category"] == "cleaning"
    assert "Needs cleaning" in ticket["description"] and ticket["due"]  # SLA deadline from the config
    panel.click("btn-toilet")
    panel.click("btn-toilet")
    central.wait_for(lambda: len(central.events_of("button.pressed")) == 3, what="three presses")
    presses = [e["data"] for e in central.events_of("button.pressed")]
    assert [p["repeat"] for p in presses] == [False, True, True]
    assert {p["ticket_no"] for p in presses} == {ticket["ticket_no"]}
    assert len(central.events_of("ticket.created")) == 1  # repeats did not open new tickets
    assert _leds(panel)["btn-toilet-led"] == "pending"  # blinking until central acknowledges
    result = central.command("ticket.update", {"ticket_no": ticket["ticket_no"], "status": "assigned"})
    assert result["ok"] is True
    deadline = time.monotonic() + 10
    while _leds(panel)["btn-toilet-led"] != "acknowledged" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _leds(panel)["btn-toilet-led"] == "acknowledged"


def test_the_main_thread_holds_no_store_connection_once_started(running) -> None:  # noqa: ANN001
    gateway, central, panel = running
    # Started from this thread (the fixture): every component has started, and this thread's
    # connection (the migrations', the start-up events') is closed; presses still become tickets.
    assert not gateway.store.has_thread_connection
    panel.click("btn-toilet")
    central.wait_for(lambda: central.events_of("ticket.created"), what="ticket on the broker")


def _button_threads_holding_connections(gateway: GatewayService) -> list[str]:
    return [name for name in gateway.store.connection_owners() if name.endswith(("-dispatch", "-logic"))]


def test_button_threads_hold_no_store_connection_between_presses(running) -> None:  # noqa: ANN001
    gateway, central, panel = running
    # Every button has its own threads; were each to keep the connection its first press
    # opened, a panel of buttons would cost the gateway a page cache and statements apiece.
    panel.click("btn-toilet")
    panel.click("face-happy")
    central.wait_for(lambda: len(central.events_of("button.pressed")) == 2, what="both presses")
    central.wait_for(lambda: not _button_threads_holding_connections(gateway), timeout=5,
                     what=f"button threads to let go: {_button_threads_holding_connections(gateway)}")
    panel.hold("btn-toilet", 4.0)  # stuck: the health callback raises, then clears, an alert
    topic = f"{gateway.cfg.base_topic}/alerts/button.stuck:btn-toilet"
    central.wait_for(lambda: topic in central.retained and json.loads(central.retained[topic])["state"] == "cleared",
                     what="stuck alert raised and cleared")
    central.wait_for(lambda: not _button_threads_holding_connections(gateway), timeout=5,
                     what=f"button threads to let go: {_button_threads_holding_connections(gateway)}")


def test_a_stuck_button_raises_a_device_alert_not_a_flood_of_tickets(running) -> None:  # noqa: ANN001
    gateway, central, panel = running
    panel.hold("btn-toilet", 4.0)  # past stuck_after_s = 3
    key = "button.stuck:btn-toilet"
    topic = f"{gateway.cfg.base_topic}/alerts/{key}"
    central.wait_for(lambda: topic in central.retained, what="stuck alert")
    central.wait_for(lambda: json.loads(central.retained[topic])["state"] == "cleared", what="cleared on release")
    assert len(central.events_of("ticket.created")) <= 1


def test_feedback_button_press_is_a_feedback_event(running) -> None:  # noqa: ANN001
    gateway, central, panel = running
    panel.click("face-happy")
    central.wait_for(lambda: central.events_of("feedback.press"), what="feedback press")
    press = central.events_of("feedback.press")[0]["data"]
    assert press["face"] == "happy" and press["source"] == "face-happy"
    central.wait_for(lambda: central.events_of("button.pressed"), what="button event")
    assert central.events_of("button.pressed")[0]["data"]["role"] == "feedback"


def test_health_report_is_published_with_device_health(broker: Broker, write_config) -> None:  # noqa: ANN001
    path = write_config(broker.port, extra=BUTTONS + "\n[alerts]\nhealth_interval_s = 1\n")
    cfg = load_config(path)
    central = Central(broker.port, cfg.base_topic)
    gateway = build_gateway(cfg, path, simulate=True)
    gateway.start()
    try:
        central.wait_for(lambda: central.events_of("health.report"), timeout=15, what="health report")
        report = central.events_of("health.report")[0]["data"]
        assert report["broker_link"] in ("up", "down") and "critical" in report["outbox"]
        assert {d["device_id"] for d in report["devices"]} >= {"btn-toilet", "face-happy"}
        assert gateway.alive()
    finally:
        gateway.stop()
        central.close()
    assert central.invalid == []
