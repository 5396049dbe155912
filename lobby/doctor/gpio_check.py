"""GPIO: the pin factory for the buttons, LEDs and buzzer can be loaded (drivers.gpio)."""

from __future__ import annotations

from lobby.config import Config
from lobby.doctor.base import Check, Context, Result, fail, ok, skip, warn

NAME = "gpio"


def checks(cfg: Config) -> list[Check]:
    return [Check(NAME, run, timeout_s=4.0)]


def run(ctx: Context) -> list[Result]:
    cfg = ctx.cfg
    pins = [b.pin for b in cfg.buttons] + [b.led_pin for b in cfg.buttons if b.led_pin is not None]
    pins += [p for p in (cfg.gpio.buzzer_pin, cfg.gpio.status_led_pin) if p is not None]
    if not pins:
        return [skip(NAME, "No GPIO buttons, LEDs or buzzer are configured.")]
    from drivers.gpio import PinFactoryError, make_pin_factory, pin_factory_name

    wanted = None if cfg.gpio.pin_factory == "auto" else cfg.gpio.pin_factory
    try:
        name = pin_factory_name(wanted)
        factory = make_pin_factory(wanted)
    except PinFactoryError as exc:
        return [fail(NAME, f"The GPIO pins cannot be used: {exc}",
                     "On Raspberry Pi OS: sudo apt install python3-lgpio and re-run install.sh (it links lgpio into "
                     "/opt/lobby); the lobby user must be in group gpio.")]
    try:
        factory.close()
    except Exception:  # closing is best effort; the factory loaded, which is what we test
        pass
    if name == "mock":
        return [warn(NAME, f"GPIO is simulated ([gpio] pin_factory = \"mock\"): the {len(pins)} configured pins "
                           "do nothing on real hardware.",
                     "On the Pi set [gpio] pin_factory = \"auto\" (lgpio).")]
    return [ok(NAME, f"The GPIO pin factory {name!r} loads ({len(pins)} pins configured).")]
