"""The broker path broken in every way while a whole lobby keeps working.

`lobby gateway --simulate` (its own process) reads 100 meters on ten simulated
RS-485 lines, takes guard taps on its checkpoint reader and button presses on the
GPIO panel, while this process checks visitors in, opens tickets and presses
feedback faces through the lobby services, as the kiosk would. The gateway
reaches the broker through a TCP proxy, and in a loop the path is cut (reset),
black-holed (bytes swallowed), the broker is paused with SIGSTOP (TCP hangs) and
restarted gracefully. Central is a persistent subscriber on the broker itself.

Every seq arrives, every acknowledged lobby action among them; duplicates and
the time from each fault's end to the gateway's next `online` are reported.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lobby.config import load_config
from mqtt_bridge.store import Store, outbox
from tests.chaos.report import recovery_summary, report
from tests.helpers.broker import Broker
from tests.helpers.central import TimedCentral
from tests.helpers.gateway_rig import GUARD_CARD, GatewayProcess, gateway_config, many_meters, sim_dir, wait_path
from tests.helpers.lobby_load import GuardTapper, LobbyProducer, PanelPresser, delivered_lobby_ids
from tests.helpers.tcpproxy import TcpProxy

pytestmark = pytest.mark.slow

METERS = 100
HOLD_S = 8.0  # longer than the PUBACK stall limit (5 s) and 1.5 x keepalive (7.5 s)


def test_link_faults_under_a_working_lobby_lose_nothing(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "broker").start()
    proxy = TcpProxy(broker.port).start()
    state = tmp_path / "state"
    config = tmp_path / "lobby.toml"
    config.write_text(gateway_config(state, proxy.port, meters=False, extra=many_meters(METERS, interval_s=5)))
    cfg = load_config(config)
    db = state / cfg.store.path
    Store(db).close()
    central = TimedCentral(broker.port, cfg.base_topic, client_id="central-link-mixed")
    gateway = GatewayProcess(config, tmp_path / "gateway.log").start()
    lobby = LobbyProducer(db, cfg, rate_hz=5)
    presser = PanelPresser(sim_dir(state) / "gpio.sock", ["btn-toilet", "face-happy"], period_s=0.2)
    tapper = GuardTapper(sim_dir(state) / "nfc-gw.sock", GUARD_CARD, period_s=1.0, hold_s=0.25)
    faults: list[str] = []
    recoveries: list[float] = []
    try:
        assert wait_path(sim_dir(state) / "gpio.sock", 30, gateway), (tmp_path / "gateway.log").read_text()[-2000:]
        assert central.wait_for_safe(lambda: central.online_since(0) is not None, 30), "gateway never came online"
        for producer in (lobby, presser, tapper):
            producer.start()
        started = time.monotonic()
        for round_ in range(8):
            time.sleep(2.0)  # traffic flows between faults
            kind = ("cut", "blackhole", "pause", "restart")[round_ % 4]
            if kind == "cut":
                proxy.cut()
                time.sleep(1.0)
                proxy.restore()
            elif kind == "blackhole":
                proxy.blackhole()
                time.sleep(HOLD_S)
                proxy.restore()
            elif kind == "pause":
                broker.pause()
                time.sleep(HOLD_S)
                broker.resume()
            else:
                broker.restart()
            restored = time.monotonic()
            faults.append(kind)
            assert central.wait_for_safe(lambda: central.online_since(restored) is not None, 60), \
                f"the gateway did not come back online after the {kind}"
            online = central.online_since(restored)
            assert online is not None
            recoveries.append(online - restored)
        fault_phase_s = time.monotonic() - started
        for producer in (presser, tapper, lobby):
            producer.stop()
        time.sleep(6)  # a last round of meter readings is committed
        with Store(db) as store:
            last = outbox.last_seq(store.connection())
        central.wait_seqs(last, timeout=120)
        assert gateway.stop() == 0

        delivered = delivered_lobby_ids(central)
        with central.lock:
            types = [e["type"] for e in central.events]
        not_delivered = [a for a in lobby.acked if a not in delivered]
        missing = central.tracker.missing(last)
        figures = {
            "meters": METERS, "faults": len(faults), "fault_phase_s": fault_phase_s,
            "events_produced": last, "delivered_unique": central.tracker.unique, "lost": len(missing),
            "duplicates": central.tracker.duplicates,
            "meter_readings_delivered": types.count("meter.reading"),
            "lobby_actions_acknowledged": len(lobby.acked), "acknowledged_not_delivered": len(not_delivered),
            "button_events_delivered": types.count("button.pressed"), "patrol_scans_delivered": types.count("patrol.scan"),
            **recovery_summary(recoveries),
        }
        report("link_chaos_mixed", figures)
        assert missing == [], missing[:20]
        assert not_delivered == []
        assert figures["meter_readings_delivered"] > METERS and lobby.acked
        assert figures["button_events_delivered"] > 0 and figures["patrol_scans_delivered"] > 0
        assert central.invalid == [], central.invalid[:5]
    finally:
        for producer in (presser, tapper, lobby):
            if producer.is_alive():
                producer.stop()
        gateway.kill()
        central.close()
        proxy.close()
        broker.stop()
