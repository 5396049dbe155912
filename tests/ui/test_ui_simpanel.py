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
