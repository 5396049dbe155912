"""Pin factory selection: explicit name, environment, default, and clear errors."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from drivers.gpio import ENV_VAR, FACTORY_NAMES, PinFactoryError, make_pin_factory, pin_factory_name


def test_explicit_name_wins_over_environment():
    assert pin_factory_name("mock", {ENV_VAR: "pigpio"}) == "mock"


def test_environment_then_default():
    assert pin_factory_name(None, {ENV_VAR: "RPiGPIO"}) == "rpigpio"
    assert pin_factory_name(None, {}) == "lgpio"


def test_mock_factory_has_pwm_pins():
    factory = make_pin_factory(None, {ENV_VAR: "mock"})
    try:
        assert isinstance(factory, MockFactory)
        assert factory.pin_class is MockPWMPin
    finally:
        factory.close()


def test_unknown_name_names_the_choices():
    with pytest.raises(PinFactoryError) as err:
        make_pin_factory(None, {ENV_VAR: "wiringpi"})
    message = str(err.value)
    assert "wiringpi" in message and ENV_VAR in message
    assert all(name in message for name in FACTORY_NAMES)


@pytest.mark.skipif(importlib.util.find_spec("lgpio") is not None,
                    reason="lgpio is installed here, so it may load")
def test_factory_that_cannot_load_says_what_to_do():
    with pytest.raises(PinFactoryError) as err:
        make_pin_factory("lgpio")
    message = str(err.value)
    assert "'lgpio' could not be loaded" in message
    assert f"{ENV_VAR}=mock" in message
    assert "\n" not in message  # one line for the operator, no traceback


def test_check_command_prints_one_line_not_a_traceback():
    env = {**os.environ, ENV_VAR: "no-such-factory"}
    done = subprocess.run([sys.executable, "-m", "drivers.gpio"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: unknown GPIO pin factory 'no-such-factory'")

    env[ENV_VAR] = "mock"
    done = subprocess.run([sys.executable, "-m", "drivers.gpio"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "MockFactory" in done.stdout
