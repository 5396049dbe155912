"""Patrol on the gateway: a guard's tap on a gateway-wired reader (simulated PN532,
real libnfc driver) becomes a patrol.scan at central."""

from __future__ import annotations

from pathlib import Path

from drivers.nfc.sim.pn532_control import ControlClient
from lobby.config import load_config
from lobby.gateway.assemble import build_gateway
from tests.helpers.broker import Broker
from tests.helpers.central import Central

PATROL = """
[[readers]]
id = "nfc-roof"
kind = "libnfc"
connstring = "pn532_uart:/dev/null-not-used"
host = "gateway"
checkpoint = "cp-roof"

[patrol]
checkpoints = [
  { id = "cp-b1", name = "B1", place = "B1 Car park", tag_uid = "04A1B2C3D4E501" },
  { id = "cp-roof", name = "Roof", place = "Roof plant room", reader = "nfc-roof" },
]
guards = [ { id = "g-wang", name = "Wang", card_uid = "7E11AA01" } ]
routes = [ { id = "night", name = "Night round", checkpoints = ["cp-roof", "cp-b1"], ordered = true } ]
"""


def test_guard_tap_on_a_gateway_reader_reaches_central(broker: Broker, write_config) -> None:  # noqa: ANN001
    path = write_config(broker.port, extra=PATROL)
    cfg = load_config(path)
    central = Central(broker.port, cfg.base_topic)
    gateway = build_gateway(cfg, path, simulate=True)
    gateway.start()
    reader = ControlClient(Path(cfg.state_dir) / "sim" / "nfc-roof.sock")
    try:
        central.wait_for(lambda: f"{cfg.base_topic}/status" in central.retained, what="gateway online")
        central.wait_for(lambda: gateway.device_health() and all(
            d.state.value == "ok" for d in gateway.device_health() if d.device_id == "nfc-roof"),
            timeout=20, what="reader ok")
        reader.present("7E11AA01", "classic_1k")  # the guard's own card, on the roof checkpoint's reader
        central.wait_for(lambda: central.events_of("patrol.scan"), timeout=20, what="patrol.scan")
        scan = central.events_of("patrol.scan")[0]["data"]
        assert scan["checkpoint_id"] == "cp-roof" and scan["guard_id"] == "g-wang"
        # The reader's thread opened a connection for the tap and closed it after: taps are
        # minutes apart, and a connection kept costs the gateway a page cache and statements.
        central.wait_for(lambda: "reader-nfc-roof" not in gateway.store.connection_owners(), timeout=5,
                         what=f"the reader's thread to let go: {gateway.store.connection_owners()}")
        reader.remove()
    finally:
        reader.close()
        gateway.stop()
        central.close()
    assert central.invalid == []
