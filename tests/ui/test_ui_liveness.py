"""The real kiosk under Xvfb: its heartbeat in the store, and a changed lobby.toml applied without a reboot.

The defect (issue #18): the kiosk read its config once and never again, so a config.update
(or its revert) reached the gateway but not the screen until the Pi rebooted. Now the app
notices the changed file and restarts itself on it once nobody is using the screen: a
visitor in a flow is never cut off. And the gateway can tell central whether the screen
is alive: the app writes a heartbeat (screen, drawn, last touch) every 10 s.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk_driver import Kiosk, seed, write_config

from lobby.config import load_config, state_path
from mqtt_bridge.store import Store


def _beat(store: Store) -> dict[str, Any] | None:
    raw = store.get_meta("kiosk.heartbeat")
    return json.loads(raw) if raw else None


def _wait(predicate: Callable[[], Any], timeout: float, what: str, kiosk: Kiosk) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{kiosk.log_text()[-3000:]}")


def test_heartbeat_and_a_changed_config_applied_once_the_screen_is_idle(
        display: Callable[[int, int], Any], tmp_path: Path) -> None:
    config = write_config(tmp_path / "lobby.toml", tmp_path / "state", 1883,
                          kiosk="idle_timeout_s = 3600\nscreensaver_after_s = 3600")
    seed(config)
    cfg = load_config(config)
    store = Store(state_path(cfg, cfg.store.path))
    kiosk = Kiosk(display(800, 480), config, tmp_path, lang="zh").start()
    try:
        first = _wait(lambda: (b := _beat(store)) and b["shown"] and b, 30, "a heartbeat with the screen drawn", kiosk)
        assert first["screen"].startswith("home") and first["config_version"] == 1 and first["version"]
        assert first["last_touch_ts"] is None

        kiosk.click("feedback")  # a visitor is using the screen ...
        kiosk.wait_screen("fb_faces")
        config.write_text(config.read_text().replace("version = 1", "version = 2", 1)
                          .replace("Tower A lobby", "Tower A main lobby"))  # ... when the config changes
        touched = _wait(lambda: (b := _beat(store)) and b["last_touch_ts"] and b, 30, "the touch in a heartbeat", kiosk)
        assert touched["screen"].startswith("fb_faces")
        assert "restarting the kiosk" not in kiosk.log_text()  # not while the visitor is there
        assert kiosk.map()["screen"] == "fb_faces"

        kiosk.click("home")  # the visitor leaves: the screen is idle, the new file is applied
        _wait(lambda: "restarting the kiosk to apply it" in kiosk.log_text(), 30, "the restart", kiosk)
        _wait(lambda: (b := _beat(store)) and b["config_version"] == 2 and b["shown"] and b, 60,
              "a heartbeat from the kiosk on version 2", kiosk)
        assert kiosk.alive()

        # A changed file that does not validate is refused (once, by name) and the kiosk keeps running.
        config.write_text(config.read_text().replace("version = 2", "version = 3", 1).replace(
            "idle_timeout_s = 3600", "idle_timeout_s = -1"))
        _wait(lambda: "is not valid" in kiosk.log_text(), 30, "the refusal", kiosk)
        assert kiosk.alive() and _beat(store)["config_version"] == 2  # type: ignore[index]
    finally:
        kiosk.stop()
        store.close()
