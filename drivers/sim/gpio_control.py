"""JSON-lines control API for the mock GPIO panel (buttons, LEDs, buzzer).

    {"cmd": "click", "button": "btn-3f-toilet"}            -> {"ok": true}
    {"cmd": "press"|"release", "button": "..."}            -> {"ok": true}
    {"cmd": "hold", "button": "...", "seconds": 3}         -> {"ok": true}   (returns after the hold)
    {"cmd": "leds"}   -> {"ok": true, "leds": {"led-id": {"pattern": "pending", "lit": true}, ...}}
    {"cmd": "list"}   -> {"ok": true, "buttons": [...], "leds": [...]}

The pins are gpiozero mock pins driven low/high, so the real PanelButton code
runs: debounce, long press and stuck detection behave as on hardware.
"""

from __future__ import annotations

import os
from typing import Any

from drivers.gpio.sim import GpioSimulator, SimulationError
from drivers.sim import control


def handle_request(sim: GpioSimulator, request: Any) -> dict[str, Any]:
    if not isinstance(request, dict):
        return {"ok": False, "error": "request must be a JSON object"}
    cmd = request.get("cmd")
    button = request.get("button")
    try:
        if cmd in ("click", "press", "release", "hold"):
            if not isinstance(button, str):
                return {"ok": False, "error": f"{cmd} needs a button id"}
            if cmd == "click":
                sim.click(button)
            elif cmd == "press":
                sim.press(button)
            elif cmd == "release":
                sim.release(button)
            else:
                seconds = request.get("seconds", 3)
                if not isinstance(seconds, (int, float)) or not 0 < seconds <= 120:
                    return {"ok": False, "error": "hold needs seconds between 0 and 120"}
                sim.hold(button, float(seconds))
            return {"ok": True}
        if cmd == "leds":
            return {"ok": True, "leds": {led_id: {"pattern": state.pattern, "lit": state.lit}
                                         for led_id, state in sim.led_states().items()}}
        if cmd == "list":
            return {"ok": True, "buttons": sim.button_ids, "leds": sim.led_ids}
    except SimulationError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": False, "error": f"unknown cmd {cmd!r}"}


class GpioControlServer(control.ControlServer):
    def __init__(self, sim: GpioSimulator, path: str | os.PathLike[str]) -> None:
        super().__init__(lambda request: handle_request(sim, request), path, name="gpio-control")


class GpioControlClient(control.ControlClient):
    def click(self, button: str) -> None:
        self.request({"cmd": "click", "button": button})

    def hold(self, button: str, seconds: float) -> None:
        self.request({"cmd": "hold", "button": button, "seconds": seconds})

    def leds(self) -> dict[str, dict[str, Any]]:
        return self.request({"cmd": "leds"})["leds"]
