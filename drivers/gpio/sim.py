"""The simulated lobby panel: buttons, LEDs and buzzer on gpiozero's MockFactory, and its control socket.

The demo and the kiosk's on-screen panel press buttons by id and read the LEDs
and buzzer. Buttons are pressed by driving their mock pins
(``drive_low()``/``drive_high()``), so the real gpiozero and PanelButton code
runs exactly as it would on hardware: debounce, long press and stuck detection
included.

:meth:`GpioSimulator.press` and :meth:`~GpioSimulator.release` return at once
(a touch-down / touch-up on screen); :meth:`~GpioSimulator.click`,
:meth:`~GpioSimulator.hold` and :meth:`~GpioSimulator.bounce` sleep while they
act, so call them from a script or a worker thread, not from a UI thread.

Other processes drive the simulator through :class:`GpioControlServer`, a
JSON-lines control socket (:mod:`drivers.sim.control`), with :class:`GpioControlClient`:

    {"cmd": "click", "button": "btn-3f-toilet"}            -> {"ok": true}
    {"cmd": "press"|"release", "button": "..."}            -> {"ok": true}
    {"cmd": "hold", "button": "...", "seconds": 3}         -> {"ok": true}   (returns after the hold)
    {"cmd": "leds"}   -> {"ok": true, "leds": {"led-id": {"pattern": "pending", "lit": true}, ...}}
    {"cmd": "list"}   -> {"ok": true, "buttons": [...], "leds": [...]}
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

from gpiozero.pins.mock import MockPin

from drivers.gpio.button import PanelButton
from drivers.gpio.buzzer import Buzzer, BuzzerState
from drivers.gpio.led import LedState, StatusLed
from drivers.sim import control


class SimulationError(RuntimeError):
    """The device is unknown, or not on the mock pin factory."""


class GpioSimulator:
    """Presses mock buttons and reads mock LEDs and buzzers, by id."""

    def __init__(self, *, buttons: Iterable[PanelButton] = (),
                 leds: Iterable[StatusLed] = (), buzzers: Iterable[Buzzer] = ()) -> None:
        self._buttons: dict[str, PanelButton] = {}
        self._leds: dict[str, StatusLed] = {}
        self._buzzers: dict[str, Buzzer] = {}
        for button in buttons:
            self.add_button(button)
        for led in leds:
            self.add_led(led)
        for buzzer in buzzers:
            self.add_buzzer(buzzer)

    def add_button(self, button: PanelButton) -> None:
        _require_mock(button.pin, button.button_id)
        self._buttons[button.button_id] = button

    def add_led(self, led: StatusLed) -> None:
        _require_mock(led.pin, led.led_id)
        self._leds[led.led_id] = led

    def add_buzzer(self, buzzer: Buzzer) -> None:
        _require_mock(buzzer.pin, buzzer.buzzer_id)
        self._buzzers[buzzer.buzzer_id] = buzzer

    @property
    def button_ids(self) -> list[str]:
        return sorted(self._buttons)

    @property
    def led_ids(self) -> list[str]:
        return sorted(self._leds)

    @property
    def buzzer_ids(self) -> list[str]:
        return sorted(self._buzzers)

    # -- buttons -------------------------------------------------------------
    def press(self, button_id: str) -> None:
        """Close the button's contact and leave it closed."""
        self._drive(button_id, pressed=True)

    def release(self, button_id: str) -> None:
        """Open the button's contact."""
        self._drive(button_id, pressed=False)

    def click(self, button_id: str, hold_s: float | None = None) -> None:
        """A short press: held a little past the debounce time, then released."""
        self.hold(button_id, hold_s if hold_s is not None else self._settle_s(button_id))

    def hold(self, button_id: str, seconds: float) -> None:
        """Press, keep pressed for *seconds*, release, and stay released long enough
        for the release to count (as a finger would), so clicks can follow at once."""
        self.press(button_id)
        time.sleep(seconds)
        self.release(button_id)
        time.sleep(self._settle_s(button_id))

    def _settle_s(self, button_id: str) -> float:
        return self._button(button_id).bounce_time * 2 + 0.01

    def bounce(self, button_id: str, edges: int = 6, *, end_pressed: bool = True) -> None:
        """Chatter the contact: *edges* alternating levels in quick succession, ending
        at *end_pressed* (a level equal to the current one is no change).

        Nothing here sleeps between edges, so the burst is far shorter than any
        sensible bounce time.
        """
        states = [(end_pressed if (edges - 1 - i) % 2 == 0 else not end_pressed)
                  for i in range(edges)]
        for pressed in states:
            self._drive(button_id, pressed=pressed)

    def wait_idle(self, button_id: str | None = None, timeout: float = 10.0) -> bool:
        """Wait until the button (or every button) has settled and delivered its events."""
        targets = [self._button(button_id)] if button_id else list(self._buttons.values())
        deadline = time.monotonic() + timeout
        return all(b.wait_idle(max(0.0, deadline - time.monotonic())) for b in targets)

    def _drive(self, button_id: str, *, pressed: bool) -> None:
        button = self._button(button_id)
        high = pressed == button.active_high
        if high:
            button.pin.drive_high()
        else:
            button.pin.drive_low()

    def _button(self, button_id: str) -> PanelButton:
        try:
            return self._buttons[button_id]
        except KeyError:
            raise SimulationError(f"no simulated button {button_id!r}") from None

    # -- outputs -------------------------------------------------------------
    def led_state(self, led_id: str) -> LedState:
        try:
            return self._leds[led_id].state
        except KeyError:
            raise SimulationError(f"no simulated LED {led_id!r}") from None

    def led_states(self) -> dict[str, LedState]:
        return {led_id: led.state for led_id, led in self._leds.items()}

    def buzzer_state(self, buzzer_id: str) -> BuzzerState:
        try:
            return self._buzzers[buzzer_id].state
        except KeyError:
            raise SimulationError(f"no simulated buzzer {buzzer_id!r}") from None


def _require_mock(pin: object, device_id: str) -> None:
    if not isinstance(pin, MockPin):
        raise SimulationError(
            f"{device_id} is on a real pin ({pin}); simulation needs the mock pin factory "
            "(GPIOZERO_PIN_FACTORY=mock)")


# -- the control socket ---------------------------------------------------------

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
