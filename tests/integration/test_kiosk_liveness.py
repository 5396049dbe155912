"""The kiosk's heartbeat in the gateway's health report, against a real `lobby gateway` process and mosquitto.

The defect (issue #18): central could not tell a dead or blank kiosk from a working one; the
gateway reported itself and its devices, never the screen. Now the kiosk writes a heartbeat
into the shared store every 10 s (tests/ui/test_ui_liveness.py checks the real kiosk writes
it) and every health.report carries it; a heartbeat that stays missing or stale is the
retained alert kiosk.stale, whose detail says in plain words what to do.

The heartbeats here are written into the store with the kiosk's own `heartbeat()`, so the
gateway's side is seen without a display: none yet (missing), a fresh one (alive, with its
screen and last touch), one from before the Pi restarted (stale).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lobby.config import load_config, state_path
from lobby.liveness import HEARTBEAT_META, heartbeat
from mqtt_bridge.store import Store
from tests.helpers.broker import Broker
from tests.helpers.central import Central, now_ts
from tests.helpers.gateway_rig import GatewayProcess
from tests.helpers.site_config import site_toml

STALE_AFTER_S = 15


def _kiosk_reports(central: Central) -> list[dict[str, Any]]:
    return [e["data"]["kiosk"] for e in central.events_of("health.report") if "kiosk" in e["data"]]


def _alert(central: Central) -> dict[str, Any] | None:
    with central.lock:
        raw = central.retained.get(f"{central.base}/alerts/kiosk.stale")
    return json.loads(raw) if raw else None


def test_the_kiosk_heartbeat_reaches_central_and_a_missing_or_stale_one_is_an_alert(
        broker: Broker, tmp_path: Path) -> None:
    config = tmp_path / "lobby.toml"
    config.write_text(site_toml(tmp_path / "state", broker.port,
                                extra=f"[alerts]\nhealth_interval_s = 1\nkiosk_stale_after_s = {STALE_AFTER_S}\n"))
    cfg = load_config(config)
    central = Central(broker.port, cfg.base_topic)
    gateway = GatewayProcess(config, tmp_path / "gateway.log", log_level="INFO").start()
    store: Store | None = None
    try:
        # No kiosk has started: every report says missing, and once the gateway has run for the
        # stale time the retained alert tells the engineer where to look.
        central.wait_for(lambda: _kiosk_reports(central), timeout=60, what="a health.report")
        assert _kiosk_reports(central)[0]["state"] == "missing"
        central.wait_for(lambda: (a := _alert(central)) and a["state"] == "active", timeout=STALE_AFTER_S + 60,
                         what="the alert kiosk.stale")
        alert = _alert(central)
        assert alert is not None and alert["detail"]["state"] == "missing" and alert["severity"] == "warning"
        assert "systemctl status lobby-kiosk" in alert["detail"]["fix"]
        assert "Kiosk" in alert["title"]

        # The kiosk beats: the report carries its screen and last touch, and the alert clears.
        store = Store(state_path(cfg, cfg.store.path))
        touched = now_ts()
        store.set_meta(HEARTBEAT_META, heartbeat(started_ts=now_ts(), started_mono_s=time.monotonic(),
                                                 screen="fb_faces", shown=True, last_touch_ts=touched,
                                                 version="test", config_version=1))
        central.wait_for(lambda: any(k["state"] == "alive" for k in _kiosk_reports(central)), timeout=30,
                         what="a report with the kiosk alive")
        alive = [k for k in _kiosk_reports(central) if k["state"] == "alive"][0]
        assert alive["screen"] == "fb_faces" and alive["shown"] is True and alive["last_touch_ts"] == touched
        assert alive["config_version"] == 1 and alive["age_s"] is not None
        central.wait_for(lambda: (a := _alert(central)) and a["state"] == "cleared", timeout=30,
                         what="the alert cleared")

        # The last heartbeat is from before the Pi restarted: the kiosk has not come back, stale at once.
        beat = json.loads(store.get_meta(HEARTBEAT_META) or "{}")
        store.set_meta(HEARTBEAT_META, json.dumps({**beat, "boot_id": "a-boot-before-this-one"}))
        central.wait_for(lambda: (a := _alert(central)) and a["state"] == "active", timeout=30,
                         what="the alert raised again")
        alert = _alert(central)
        assert alert is not None and alert["detail"]["state"] == "stale" and alert["detail"]["screen"] == "fb_faces"
        assert "systemctl restart lobby-kiosk" in alert["detail"]["fix"]
        assert _kiosk_reports(central)[-1]["state"] == "stale" and _kiosk_reports(central)[-1]["age_s"] is None
        assert gateway.alive()
    finally:
        gateway.stop()
        central.close()
        if store is not None:
            store.close()
    assert central.invalid == [], central.invalid
