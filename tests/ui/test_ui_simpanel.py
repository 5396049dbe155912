"""`lobby kiosk --simulate`: the on-screen simulator panel presents cards on the PN532
simulator (read by the kiosk's real reader) and presses the gateway's mock GPIO buttons
through `<state_dir>/sim/gpio.sock`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kiosk_driver import Kiosk, seed, write_config

from drivers.sim.control import ControlServer

BUTTONS = """
[[buttons]]
id = "btn-lobby-help"
pin = 22
place = "大堂 Lobby"
meaning = "呼叫工作人员 Call staff"
ticket_kind = "enquiry"
"""


def test_ui_simulator_panel(display: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path / "lobby.toml", tmp_path / "state", 1883, extra=BUTTONS)
    seed(config)
    presses: list[Any] = []
    # stands in for the gateway's simulated GPIO panel (lobby gateway --simulate)
    gpio = ControlServer(lambda request: presses.append(request) or {"ok": True},
                         tmp_path / "state" / "sim" / "gpio.sock").start()
    k = Kiosk(display(800, 480), config, tmp_path, sim_panel=True).start()
    try:
        k.click("sim_toggle")
        k.click("sim_guard_0")  # the guard card, presented on the PN532 simulator for a moment
        k.wait(lambda m: m["overlay"].startswith("tap_patrol"), what="patrol confirmation from the panel")
        k.click("overlay_ok")
        k.click("sim_gpio_btn-lobby-help")
        k.wait(lambda m: presses, what="the GPIO button press")
        assert presses[0] == {"cmd": "click", "button": "btn-lobby-help"}
    finally:
        k.stop()
        gpio.stop()
    assert "Traceback" not in k.log_text()
    json.dumps(presses)


# ---------------------------------------------------------------------- the panel covers nothing

STAFF = "5A3B9C01"


def _overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] \
        and b["y"] < a["y"] + a["h"]


def _covered(m: dict[str, Any], panel: dict[str, Any]) -> list[str]:
    """The product's named widgets, keyboard keys and keyboard that lie (partly) under the panel."""
    hits = [name for name, w in m["widgets"].items() if not name.startswith("sim_") and _overlaps(w, panel)]
    key_w = 8  # a key is reported by its centre: a key reaching the panel has its centre within a few px
    hits += [name for name, k in m["keys"].items() if "cx" in k
             and _overlaps({"x": k["cx"] - key_w, "y": k["cy"] - key_w, "w": 2 * key_w, "h": 2 * key_w}, panel)]
    if m.get("keyboard") and _overlaps(m["keyboard"], panel):
        hits.append("keyboard")
    return hits


def test_ui_simulator_panel_covers_no_product_control(display: Any, tmp_path: Path) -> None:
    """On every screen of a tour (home, check-in with the keyboard open, a ticket, the staff screen), closed
    and open, no named product widget's rectangle meets the panel's strip (handle, and drawer when open)."""
    config = write_config(tmp_path / "lobby.toml", tmp_path / "state", 1883, extra=BUTTONS,
                          kiosk="idle_timeout_s = 600\nscreensaver_after_s = 3600")
    seed(config)
    k = Kiosk(display(800, 480), config, tmp_path, sim_panel=True).start()
    found: dict[str, list[str]] = {}

    def check(where: str, keyboard: bool = False) -> None:
        m = k.settled()
        assert "sim_toggle" in m["widgets"], where
        if keyboard:
            assert m["keys"], f"{where}: the keyboard is not open"
            assert any(name in m["keys"] for name in ("key:enter", "key:done")), sorted(m["keys"])
        for part in [p for p in ("sim_panel", "sim_toggle") if p in m["widgets"]]:
            hits = _covered(m, m["widgets"][part])
            if hits:
                found[f"{where} ({part})"] = hits
        k.screenshot(f"800x480-simpanel-{where}")

    try:
        for state in ("closed", "open"):
            if state == "open":
                k.click("sim_toggle")
                k.wait_widget("sim_guard_0")
            check(f"home-{state}")
            k.click("checkin")
            k.wait(lambda m: m["screen"] in ("ci_start", "ci_name"), what="check-in started")
            if k.map()["screen"] == "ci_start":
                check(f"ci_start-{state}")
                k.click("walkin")
            k.wait_screen("ci_name")
            check(f"checkin-name-keyboard-{state}", keyboard=True)
            k.click("home")
            k.wait_screen("home")
            k.click("ticket")
            k.wait_screen("tk_kind")
            check(f"ticket-{state}")
            k.click("home")
            k.wait_screen("home")
            k.tap_card(STAFF)
            k.wait_screen("staff")
            check(f"staff-{state}")
            k.click("staff_exit")
            k.wait_screen("home")
            assert not found, found
    finally:
        k.stop()
    assert not found, found
    assert "Traceback" not in k.log_text()
