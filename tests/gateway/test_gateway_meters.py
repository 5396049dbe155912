"""Meters on the gateway under --simulate: readings over the simulated RS-485 lines reach
central; a meter that stops answering raises its alert and clears it when it is back."""

from __future__ import annotations

import json
from pathlib import Path

from drivers.sim.control import ControlClient
from lobby.config import load_config
from lobby.gateway.assemble import build_gateway
from tests.helpers.broker import Broker
from tests.helpers.central import Central

METERS = """
[[buses]]
id = "rs485-a"
port = "/dev/not-used-when-simulated"
baudrate = 9600
parity = "N"

[[meters]]
id = "elec-plant"
bus = "rs485-a"
protocol = "modbus"
address = "1"
map = "sdm120"
interval_s = 1
offline_after_failures = 2

[[meters]]
id = "th-lobby"
bus = "rs485-a"
protocol = "modbus"
address = "2"
map = "th_sensor"
interval_s = 1
"""


def test_readings_reach_central_and_a_meter_fault_raises_then_clears(broker: Broker, write_config) -> None:  # noqa: ANN001
    path = write_config(broker.port, extra=METERS)
    cfg = load_config(path)
    central = Central(broker.port, cfg.base_topic)
    gateway = build_gateway(cfg, path, simulate=True)
    gateway.start()
    control = ControlClient(Path(cfg.state_dir) / "sim" / "meters.sock")
    topic = f"{cfg.base_topic}/alerts/meter.offline:elec-plant"
    try:
        central.wait_for(lambda: {e["data"]["meter_id"] for e in central.events_of("meter.reading")}
                         >= {"elec-plant", "th-lobby"}, timeout=30, what="readings from both meters")
        reading = next(e for e in central.events_of("meter.reading") if e["data"]["meter_id"] == "elec-plant")
        assert reading["data"]["values"]["energy_import"]["unit"] == "kWh"
        control.request({"cmd": "fault", "meter": "elec-plant", "fault": "no_reply"})
        central.wait_for(lambda: topic in central.retained and central.retained[topic], timeout=30, what="alert")
        alert = json.loads(central.retained[topic])
        assert alert["state"] == "active" and "answer" in json.dumps(alert["detail"], ensure_ascii=False)
        before = len([e for e in central.events_of("meter.reading") if e["data"]["meter_id"] == "th-lobby"])
        control.request({"cmd": "clear", "meter": "elec-plant"})
        central.wait_for(lambda: json.loads(central.retained[topic] or b"{}").get("state") == "cleared",
                         timeout=30, what="alert cleared")
        # the healthy meter on the same line kept being read throughout
        assert len([e for e in central.events_of("meter.reading") if e["data"]["meter_id"] == "th-lobby"]) > before
    finally:
        control.close()
        gateway.stop()
        central.close()
    assert central.invalid == []
