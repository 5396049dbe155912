"""The real kiosk app SIGKILLed mid-flow: what a visitor saw confirmed is kept and reaches central.

`lobby kiosk --simulate` under Xvfb, driven by pointer clicks. Each round a visitor
rates the service and sees the thank-you screen (the kiosk's acknowledgement), then
another visitor starts and the process is SIGKILLed at a random moment around their
tap. The kiosk is started again each round and must come back to its home screen.
At the end the store passes integrity_check, every acknowledged press is in it, and
every press the store holds reached central through the bridge.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kiosk_driver import Kiosk, seed, write_config

from lobby.config import load_config, state_path
from lobby.runtime import Runtime
from mqtt_bridge.store import Store
from tests.chaos.report import report
from tests.helpers.broker import Broker
from tests.helpers.central import Central

pytestmark = pytest.mark.slow

ROUNDS = 6
FACES = ("face_very_happy", "face_happy", "face_unhappy", "face_very_unhappy")


def test_kiosk_app_killed_mid_flow_keeps_what_it_confirmed(display: Callable[[int, int], Any], tmp_path: Path) -> None:
    rng = random.Random(7)
    broker = Broker(tmp_path / "broker").start()
    config = write_config(tmp_path / "lobby.toml", tmp_path / "state", broker.port,
                          kiosk="idle_timeout_s = 3600\nscreensaver_after_s = 3600")
    seed(config)
    cfg = load_config(config)
    runtime = Runtime(cfg, config)
    runtime.start()
    central = Central(broker.port, cfg.base_topic, client_id="central-ui-kill")
    store = Store(state_path(cfg, cfg.store.path))
    confirmed: list[str] = []  # press ids the visitor saw thanked for
    kill_moments: list[str] = []
    kiosk: Kiosk | None = None
    try:
        for _ in range(ROUNDS):
            kiosk = Kiosk(display(800, 480), config, tmp_path, lang="zh").start()
            kiosk.click("feedback")
            kiosk.wait_screen("fb_faces")
            kiosk.click(rng.choice(FACES[:2]))  # a happy face: no reason step
            kiosk.wait_screen("fb_thanks")
            confirmed.append(store.query("SELECT id FROM feedback ORDER BY ts DESC, rowid DESC LIMIT 1")[0]["id"])
            kiosk.wait_screen("home", timeout=cfg.kiosk.thank_you_s + 10)
            kiosk.click("feedback")
            kiosk.wait_screen("fb_faces")
            kiosk.click(rng.choice(FACES))
            delay = rng.uniform(0.0, 0.25)  # before, during or after the commit of this tap
            time.sleep(delay)
            assert kiosk.proc is not None
            os.kill(kiosk.proc.pid, signal.SIGKILL)
            kiosk.proc.wait(10)
            kiosk.stop()
            kill_moments.append(f"{delay * 1000:.0f} ms")
            kiosk = None
        kiosk = Kiosk(display(800, 480), config, tmp_path, lang="zh").start()  # comes back after the last kill
        assert kiosk.map()["screen"] == "home"

        integrity = store.integrity_check()
        held = {r["id"] for r in store.query("SELECT id FROM feedback")}
        central.wait_for(lambda: held <= {e["data"]["press_id"] for e in central.events_of("feedback.press")},
                         60, "every stored press at central")
        figures = {"sigkills": ROUNDS, "confirmed": len(confirmed), "stored": len(held),
                   "confirmed_not_stored": len(set(confirmed) - held),
                   "delivered": len({e["data"]["press_id"] for e in central.events_of("feedback.press")}),
                   "integrity": integrity, "kill_delays": kill_moments}
        report("kiosk_app_sigkill", figures)
        assert integrity == "ok"
        assert set(confirmed) <= held
        assert len(held) >= len(confirmed)
        assert central.invalid == [], central.invalid[:5]
    finally:
        if kiosk is not None:
            kiosk.stop()
        central.close()
        runtime.stop()
        store.close()
        broker.stop()
