"""Against a real mosquitto: simulated meters, the real drivers, the bridge, and central on the other side."""

from __future__ import annotations

import json
from pathlib import Path

from meterservice_helpers import make_config, wait_until

from lobby.meters import MeterService, start_simulation
from lobby.runtime import Runtime
from mqtt_bridge.store import Lane
from tests.helpers.broker import Broker
from tests.helpers.central import Central


def test_readings_reach_central_on_the_bulk_lane_and_alerts_on_their_topics(broker: Broker, tmp_path: Path) -> None:
    cfg = make_config(tmp_path / "state", port=broker.port, interval=1)
    cfg, sim = start_simulation(cfg, seed=3, drift=False)
    runtime = Runtime(cfg, None)
    meters = MeterService(cfg, runtime.store, runtime.alerts, run_daily=False)
    central = Central(broker.port, cfg.base_topic)
    try:
        sim.set_fault("elec-2", "no_reply")
        meters.start()
        # written before the bridge runs: every reading sits in the outbox on the bulk lane
        wait_until(lambda: runtime.store.scalar("SELECT count(DISTINCT json_extract(data, '$.meter_id')) FROM outbox "
                                                "WHERE type = 'meter.reading'") == 5, what="a reading of every meter")
        lanes = {row["lane"] for row in runtime.store.query("SELECT lane FROM outbox WHERE type = 'meter.reading'")}
        assert lanes == {int(Lane.BULK)}
        wait_until(lambda: runtime.alerts.get("meter.offline:elec-2") is not None, what="offline alert")
        runtime.start()
        central.wait_for(lambda: {e["data"]["meter_id"] for e in central.events_of("meter.reading")} ==
                         {"elec-1", "elec-2", "water-1", "sdm-1", "th-1"}, what="readings at central")
        topic = f"{cfg.base_topic}/alerts/meter.offline:elec-2"
        central.wait_for(lambda: topic in central.retained, what="retained offline alert")
        state = json.loads(central.retained[topic])
        assert state["state"] == "active" and "does not answer" in state["detail"]["reason"]
        sim.clear_fault("elec-2")
        central.wait_for(lambda: json.loads(central.retained[topic] or b"{}").get("state") == "cleared",
                         what="alert cleared at central")
        last = runtime.store.scalar("SELECT value FROM counters WHERE name = 'seq'")
        central.wait_seqs(last)
        assert central.invalid == []
        assert central.tracker.duplicates == 0
        sdm = [e for e in central.events_of("meter.reading") if e["data"]["meter_id"] == "sdm-1"][-1]
        assert sdm["data"]["values"]["power_total"]["unit"] == "kW"
    finally:
        assert meters.stop(timeout=5)
        central.close()
        runtime.stop()
        sim.stop()
