"""Choosing and loading the gpiozero pin factory.

The factory is picked from an explicit name, else the ``GPIOZERO_PIN_FACTORY``
environment variable, else lgpio (the library that works on a Pi 5 and on
Raspberry Pi OS Bookworm). A factory that cannot load raises
:class:`PinFactoryError` whose message says what to do; callers print the
message instead of a traceback.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Mapping

from gpiozero.pins import Factory
from gpiozero.pins.mock import MockFactory, MockPWMPin

ENV_VAR = "GPIOZERO_PIN_FACTORY"
DEFAULT_FACTORY = "lgpio"

# name -> (module, class, hint shown when loading fails)
_FACTORIES: dict[str, tuple[str, str, str]] = {
    "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory",
              "on Raspberry Pi OS install it with 'apt install python3-lgpio' "
              "(or 'pip install lgpio' inside a virtual environment)"),
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory",
                "install RPi.GPIO; it does not support the Pi 5, use lgpio there"),
    "pigpio": ("gpiozero.pins.pigpio", "PiGPIOFactory",
               "install pigpio and start the pigpiod daemon "
               "(it does not support the Pi 5)"),
    "native": ("gpiozero.pins.native", "NativeFactory",
               "the native factory needs /dev/gpiomem on a Raspberry Pi"),
    "mock": ("gpiozero.pins.mock", "MockFactory", ""),
}
FACTORY_NAMES: tuple[str, ...] = tuple(_FACTORIES)


class PinFactoryError(RuntimeError):
    """The chosen pin factory is unknown or cannot be used on this machine."""


def pin_factory_name(name: str | None = None,
                     environ: Mapping[str, str] | None = None) -> str:
    """The factory name in force: *name*, else the environment, else lgpio."""
    env = os.environ if environ is None else environ
    chosen = name or env.get(ENV_VAR) or DEFAULT_FACTORY
    key = chosen.strip().lower()
    if key not in _FACTORIES:
        source = "argument" if name else f"{ENV_VAR}"
        raise PinFactoryError(
            f"unknown GPIO pin factory {chosen!r} (from {source}); "
            f"choose one of: {', '.join(FACTORY_NAMES)}")
    return key


def make_pin_factory(name: str | None = None,
                     environ: Mapping[str, str] | None = None) -> Factory:
    """Load a new pin factory by name (see :func:`pin_factory_name`).

    The mock factory is built with PWM-capable mock pins so that PWM LEDs work
    in tests and in the demo.
    """
    key = pin_factory_name(name, environ)
    if key == "mock":
        return MockFactory(pin_class=MockPWMPin)
    module_name, class_name, hint = _FACTORIES[key]
    try:
        module = importlib.import_module(module_name)
        return getattr(module, class_name)()
    except Exception as exc:  # each backend fails in its own way (ImportError, OSError, ...)
        detail = str(exc) or type(exc).__name__
        raise PinFactoryError(
            f"GPIO pin factory {key!r} could not be loaded: {detail}. "
            f"Hint: {hint}. To run without GPIO hardware set {ENV_VAR}=mock."
        ) from exc


_default_lock = threading.Lock()
_default_factory: Factory | None = None


def default_pin_factory() -> Factory:
    """The process-wide factory used by devices built without ``pin_factory``.

    One factory per process, so that every device shares its pin reservations
    (and, under the mock factory, the simulator sees the same pins).
    """
    global _default_factory
    with _default_lock:
        if _default_factory is None:
            _default_factory = make_pin_factory()
        return _default_factory
