"""The whole gateway process SIGKILLed 100 times under steady mixed load.

`lobby gateway --simulate` runs as its own process (meters on simulated RS-485
lines, a PN532 checkpoint reader, mock GPIO buttons) and is killed at random
points: during start-up (store open, card sync, components), while running, while
a `config.update` from central is being applied, and while a `lobby purge` runs
beside it (the gateway's own daily purge also runs on every start). Load never
stops: button presses through the GPIO control socket, guard taps through the
reader's control socket, check-ins, tickets and feedback through the lobby
services from this process (as the kiosk would), meter readings.

Afterwards: the store passes PRAGMA integrity_check; the config file was, after
every kill, either the old or the new version (never torn, and the new one
whenever central had been told "ok"); every event ever committed reaches central
(no gap in seq except announced `outbox.dropped` ranges), in particular every
lobby action the producer was told was saved, which is also still in the store.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lobby.config import load_config
from mqtt_bridge.store import Store, outbox
from tests.chaos.report import recovery_summary, report
from tests.helpers.broker import Broker
from tests.helpers.central import TimedCentral, now_ts
from tests.helpers.gateway_rig import GUARD_CARD, ROOT, GatewayProcess, gateway_config, sim_dir
from tests.helpers.lobby_load import (GuardTapper, LobbyProducer, PanelPresser, delivered_lobby_ids,
                                     lobby_ids_in_store)

pytestmark = pytest.mark.slow

KILLS = 100


def _config_version(path: Path) -> int:
    return load_config(path).version  # raises if the file is torn or invalid


def _purge(config: Path, now: dt.datetime) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "lobby.cli", "--log-level", "WARNING", "purge",
                             "--config", str(config), "--now", now.isoformat(), "--json"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_gateway_killed_100_times_under_load_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261125)
    broker = Broker(tmp_path / "broker").start()
    state = tmp_path / "state"
    config = tmp_path / "lobby.toml"
    config.write_text(gateway_config(state, broker.port, interval_s=1))
    cfg = load_config(config)
    db = state / cfg.store.path
    Store(db).close()
    central = TimedCentral(broker.port, cfg.base_topic, client_id="central-gw-kill")
    lobby = LobbyProducer(db, cfg, rate_hz=6)
    presser = PanelPresser(sim_dir(state) / "gpio.sock", ["btn-toilet"], period_s=0.05)
    presser2 = PanelPresser(sim_dir(state) / "gpio.sock", ["face-happy"], period_s=0.05, seed=5)
    tapper = GuardTapper(sim_dir(state) / "nfc-gw.sock", GUARD_CARD, period_s=0.3, hold_s=0.25)
    log_path = tmp_path / "gateway.log"
    kinds = {"startup": 0, "running": 0, "config_update": 0, "purge": 0}
    config_checks = {"sent": 0, "acknowledged_ok": 0, "file_new_after_kill": 0, "file_old_after_kill": 0}
    purge_rcs: list[int] = []
    recoveries: list[float] = []
    started = time.monotonic()
    gateway: GatewayProcess | None = None
    try:
        for producer in (lobby, presser, presser2, tapper):
            producer.start()
        for round_ in range(KILLS):
            gateway = GatewayProcess(config, log_path).start()
            t0 = gateway.started_at
            slot = round_ % 10
            if slot == 3:  # central pushes a config; the kill lands while it is applied
                kinds["config_update"] += 1
                old = _config_version(config)
                if not central.wait_for_safe(lambda: central.online_since(t0) is not None, 20):
                    pytest.fail(f"round {round_}: the gateway did not come online")
                new_text = config.read_text().replace(f"version = {old}", f"version = {old + 1}", 1).replace(
                    'name = "Test lobby', f'name = "Test lobby v{old + 1}', 1)
                cmd_id = f"cfg-{round_}"
                payload = json.dumps({"id": cmd_id, "ts": now_ts(),
                                      "data": {"version": old + 1, "toml": new_text}}).encode()
                central.client.publish(f"{cfg.base_topic}/cmd/config.update", payload, qos=1)
                config_checks["sent"] += 1
                time.sleep(rng.uniform(0.0, 0.12))
                gateway.kill()
                version = _config_version(config)
                assert version in (old, old + 1), f"round {round_}: config version {version}, expected {old} or {old + 1}"
                time.sleep(0.2)  # a result published before the kill is still on its way
                acked = [body for name, body in _drain(central) if body.get("id") == cmd_id and body.get("ok")]
                if acked:
                    config_checks["acknowledged_ok"] += 1
                    assert version == old + 1, f"round {round_}: central was told ok but version {version} is in force"
                config_checks["file_new_after_kill" if version == old + 1 else "file_old_after_kill"] += 1
            elif slot == 7:  # `lobby purge` (the systemd timer's job) runs while the gateway dies
                kinds["purge"] += 1
                purge = _purge(config, dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=40))
                time.sleep(rng.uniform(0.5, 1.4))
                gateway.kill()
                out, err = purge.communicate(timeout=60)
                purge_rcs.append(purge.returncode)
                assert purge.returncode == 0, err.decode(errors="replace")
            else:
                early = rng.random() < 0.25
                kinds["startup" if early else "running"] += 1
                time.sleep(rng.uniform(0.05, 0.8) if early else rng.uniform(1.0, 2.2))
                gateway.kill()
            online = central.online_since(t0)
            if online is not None:
                recoveries.append(online - t0)
        kill_phase_s = time.monotonic() - started
        for producer in (presser, presser2, tapper, lobby):
            producer.stop()
        with Store(db) as store:
            last = outbox.last_seq(store.connection())
        final_start = time.monotonic()
        gateway = GatewayProcess(config, log_path).start()
        central.wait_seqs(last, timeout=120)
        drain_s = time.monotonic() - final_start
        assert central.wait_for_safe(lambda: central.online_since(final_start) is not None, 20)
        assert gateway.stop() == 0
        gateway = None

        with Store(db) as store:
            integrity = store.integrity_check()
            present = lobby_ids_in_store(store)
            remaining = store.scalar("SELECT count(*) FROM outbox")
        delivered_ids = delivered_lobby_ids(central)
        with central.lock:
            button_presses = sum(1 for e in central.events if e["type"] == "button.pressed")
            taps = sum(1 for e in central.events if e["type"] == "patrol.scan")
        not_delivered = [a for a in lobby.acked if a not in delivered_ids]
        not_in_store = [a for a in lobby.acked if a[1] not in present[a[0]]]
        missing = central.tracker.missing(last)
        figures = {
            "sigkills": KILLS, **{f"kills_{k}": v for k, v in kinds.items()},
            "events_produced": last, "lobby_actions_acknowledged": len(lobby.acked),
            "lobby_outcomes": dict(lobby.outcomes), "button_clicks_sent": presser.sent + presser2.sent,
            "button_events_delivered": button_presses, "guard_taps_sent": tapper.sent,
            "patrol_scans_delivered": taps, "delivered_unique": central.tracker.unique,
            "dropped_announced": central.tracker.dropped_announced, "lost": len(missing),
            "acknowledged_not_delivered": len(not_delivered), "acknowledged_not_in_store": len(not_in_store),
            "duplicates": central.tracker.duplicates, "integrity": integrity,
            "outbox_rows_left": remaining, **{f"config_{k}": v for k, v in config_checks.items()},
            "purges_ok": sum(1 for rc in purge_rcs if rc == 0), "purges_run": len(purge_rcs),
            **recovery_summary(recoveries), "rounds_online": len(recoveries),
            "final_drain_s": drain_s, "kill_phase_s": kill_phase_s,
        }
        report("gateway_sigkill", figures)
        assert integrity == "ok"
        assert missing == [], missing[:20]
        assert not_delivered == [] and not_in_store == []
        assert remaining == 0
        assert lobby.acked, "the lobby producer got nothing acknowledged"
        assert button_presses > 0 and taps > 0
        assert central.invalid == [], central.invalid[:5]
    finally:
        if gateway is not None:
            gateway.kill()
        for producer in (presser, presser2, tapper, lobby):
            if producer.is_alive():
                producer.stop()
        central.close()
        broker.stop()


def _drain(central: TimedCentral) -> list[tuple[str, dict[str, Any]]]:
    import queue

    out = []
    while True:
        try:
            out.append(central.results.get_nowait())
        except queue.Empty:
            return out

