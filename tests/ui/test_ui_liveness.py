"""The real kiosk under Xvfb: its heartbeat in the store, and a changed lobby.toml applied without a reboot.

The defect (issue #18): the kiosk read its config once and never again, so a config.update
(or its revert) reached the gateway but not the screen until the Pi rebooted. Now the app
notices the changed file and restarts itself on it once nobody is using the screen: a
visitor in a flow is never cut off. And the gateway can tell central whether the screen
is alive: the app writes a heartbeat (screen, drawn, last touch) every 10 s.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk_driver import FONT_CACHE, Kiosk, seed, write_config

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


def _holds_pydantic(kiosk: Kiosk) -> bool:
    assert kiosk.proc is not None
    return "pydantic_core" in Path(f"/proc/{kiosk.proc.pid}/maps").read_text()


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
        assert not _holds_pydantic(kiosk)  # the file was validated in a child (lobby/config/readonly.py)

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
        time.sleep(6.0)  # one more check (kiosk/liveness.py: every 5 s): the refused file is not checked again
        assert kiosk.log_text().count("is not valid") == 1
        assert not _holds_pydantic(kiosk)  # changed files too were checked by a child
    finally:
        kiosk.stop()
        store.close()


def test_a_kiosk_started_while_its_ui_font_is_built_restarts_on_it_once_the_screen_is_idle(
        display: Callable[[int, int], Any], tmp_path: Path) -> None:
    """After an upgrade the cached UI font belongs to the old version: the kiosk starts on the full
    CJK faces (about 25 MB more) and builds the new one in the background. It used to keep the full
    faces until something else restarted it (weeks, on a quiet site); now it restarts on the UI
    font once the font is built and nobody is using the screen."""
    config = write_config(tmp_path / "lobby.toml", tmp_path / "state", 1883,
                          kiosk="idle_timeout_s = 3600\nscreensaver_after_s = 3600")
    seed(config)
    cache = tmp_path / "cache"
    (cache / "lobby-kiosk").mkdir(parents=True)
    for face in (FONT_CACHE / "lobby-kiosk").glob("*.otf"):
        if "-ui" not in face.name:  # the faces cut from the system's .ttc stay; the UI font is gone
            shutil.copy(face, cache / "lobby-kiosk" / face.name)
    kiosk = Kiosk(display(800, 480), config, tmp_path, lang="zh", font_cache=cache).start(timeout=90)
    try:
        assert "building the kiosk's UI font in the background" in kiosk.log_text()
        kiosk.click("feedback")  # a visitor is using the screen while the font is built
        kiosk.wait_screen("fb_faces")
        _wait(lambda: len(list((cache / "lobby-kiosk").glob("*-ui*.otf"))) == 2, 240, "the UI font built", kiosk)
        time.sleep(6)  # longer than the kiosk's check interval (5 s)
        assert "to draw with it" not in kiosk.log_text() and kiosk.map()["screen"] == "fb_faces"

        kiosk.click("home")  # the visitor leaves: the kiosk restarts on the UI font
        _wait(lambda: "restarting the kiosk to draw with it" in kiosk.log_text(), 30, "the restart", kiosk)
        _wait(lambda: kiosk.log_text().split("to draw with it", 1)[1].count("kiosk ready (") >= 1, 90,
              "the kiosk ready again", kiosk)
        assert kiosk.alive()
        assert kiosk.log_text().count("building the kiosk's UI font in the background") == 1  # found the second time
    finally:
        kiosk.stop()
