"""End to end with a real mosquitto: a tap reaches central as a valid patrol.scan, a missed checkpoint as a retained alert."""

from __future__ import annotations

import datetime as dt
import json

from lobby.patrol import ManualClock, PatrolEngine
from lobby.runtime import Runtime
from tests.helpers.broker import Broker
from tests.helpers.central import Central
from tests.patrol.patrol_helpers import PATROL, WANG


def test_a_scan_and_a_missed_checkpoint_reach_central(broker: Broker, make_config) -> None:  # noqa: ANN001
    patrol = PATROL.partition("schedules = [")[0] + "schedules = []\n"
    runtime = Runtime(make_config(broker.port, extra=patrol, discovery=True), None)
    central = Central(broker.port, runtime.cfg.base_topic)
    try:
        runtime.start()
        status = f"{runtime.cfg.base_topic}/status"
        central.wait_for(lambda: b'"online"' in central.retained.get(status, b""), what="gateway online")
        clock = ManualClock(dt.datetime.now(dt.timezone.utc))  # the engine's clock, driven by hand from now on
        engine = PatrolEngine(runtime.cfg, runtime.store, runtime.alerts, clock)

        result = engine.scan(WANG, "nfc-lobby")
        assert result.status == "on_time"
        runtime.bridge.wake()
        central.wait_for(lambda: central.events_of("patrol.scan"), what="patrol.scan at central")
        (scan,) = central.events_of("patrol.scan")
        assert scan["data"]["checkpoint_id"] == "cp-lobby" and scan["data"]["status"] == "on_time"
        assert scan["data"]["guard_id"] == "g-wang" and scan["historical"] is False

        # Home Assistant's "Patrol last scan" sensor reads exactly these two fields
        ha_topic = f"homeassistant/device/{runtime.cfg.site.gateway_id}/config"
        central.wait_for(lambda: central.by_topic.get(ha_topic), what="discovery document")
        discovery = json.loads(central.by_topic[ha_topic][-1])
        template = discovery["cmps"]["patrol_status"]["val_tpl"]
        assert "value_json.data.checkpoint_id" in template and "value_json.data.status" in template

        clock.advance(minutes=20, seconds=30)  # B1 was due after 15 min, grace 5 min
        tick = engine.tick()
        assert tick.missed == [(result.round_id, "cp-b1")]
        runtime.bridge.wake()
        topic = f"{runtime.cfg.base_topic}/alerts/patrol.missed:{result.round_id}:cp-b1"
        central.wait_for(lambda: central.retained.get(topic, b"").startswith(b"{"), what="retained missed alert")
        alert = json.loads(central.retained[topic])
        assert (alert["state"], alert["severity"]) == ("active", "warning")
        assert alert["detail"]["checkpoint_id"] == "cp-b1" and alert["detail"]["round_id"] == result.round_id
        central.wait_for(lambda: central.events_of("alert.raised"), what="alert.raised event")
        assert central.invalid == []
    finally:
        central.close()
        runtime.stop()
