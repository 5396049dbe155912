"""Lobby panel GPIO devices (buttons, status LEDs, buzzer) on gpiozero.

Every device takes plain constructor arguments and an optional gpiozero pin
factory; without one they share :func:`default_pin_factory` (lgpio, or what
``GPIOZERO_PIN_FACTORY`` names). Tests and the demo use ``make_pin_factory("mock")``
and drive the panel through :class:`GpioSimulator`.

This folder owns the panel's drivers (``button``, ``debounce``, ``led``, ``buzzer``),
the pin factory (``factory``; ``python -m drivers.gpio`` checks that it loads) and
the simulated panel with its control socket (``sim``).

May import: the standard library, gpiozero (and its pin libraries) and the shared
simulator plumbing in :mod:`drivers.sim`; never lobby, kiosk or mqtt_bridge.
"""

from drivers.gpio.button import ButtonCallback, PanelButton
from drivers.gpio.buzzer import DEFAULT_BEEP_PATTERNS, BeepPattern, Buzzer, BuzzerState
from drivers.gpio.debounce import ButtonEvent, ButtonEventKind, ButtonLogic
from drivers.gpio.factory import (
                                  ENV_VAR,
                                  FACTORY_NAMES,
                                  PinFactoryError,
                                  default_pin_factory,
                                  make_pin_factory,
                                  pin_factory_name,
)
from drivers.gpio.led import DEFAULT_LED_PATTERNS, LedPattern, LedState, StatusLed
from drivers.gpio.sim import GpioSimulator, SimulationError

__all__ = [
    "BeepPattern", "ButtonCallback", "ButtonEvent", "ButtonEventKind", "ButtonLogic", "Buzzer",
    "BuzzerState", "DEFAULT_BEEP_PATTERNS", "DEFAULT_LED_PATTERNS", "ENV_VAR", "FACTORY_NAMES",
    "GpioSimulator", "LedPattern", "LedState", "PanelButton", "PinFactoryError",
    "SimulationError", "StatusLed", "default_pin_factory", "make_pin_factory",
    "pin_factory_name",
]
