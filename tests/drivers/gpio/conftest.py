"""Fixtures for the GPIO tests: a fresh mock pin factory and devices closed after each test."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from drivers.gpio import Buzzer, GpioSimulator, PanelButton, StatusLed, make_pin_factory


def _wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll *predicate* until true; the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


@pytest.fixture
def wait_for():
    return _wait_for


@pytest.fixture
def factory():
    pin_factory = make_pin_factory("mock")
    yield pin_factory
    pin_factory.close()


@pytest.fixture
def devices(factory):
    """Builds devices on the test's factory and closes them afterwards."""
    made: list = []

    class Maker:
        def button(self, button_id: str = "btn", pin: int = 17, **kwargs) -> PanelButton:
            kwargs.setdefault("bounce_time", 0.02)
            kwargs.setdefault("hold_time", 0.3)
            kwargs.setdefault("stuck_time", 0.8)
            made.append(PanelButton(button_id, pin, pin_factory=factory, **kwargs))
            return made[-1]

        def led(self, led_id: str = "led", pin: int = 18, **kwargs) -> StatusLed:
            made.append(StatusLed(led_id, pin, pin_factory=factory, **kwargs))
            return made[-1]

        def buzzer(self, buzzer_id: str = "buzzer", pin: int = 27, **kwargs) -> Buzzer:
            made.append(Buzzer(buzzer_id, pin, pin_factory=factory, **kwargs))
            return made[-1]

    yield Maker()
    for device in reversed(made):
        device.close()


@pytest.fixture
def sim() -> GpioSimulator:
    return GpioSimulator()
