"""Building the gateway from the configuration: which components run, real or simulated.

With --simulate every device is replaced by its simulator, and the real driver
code runs against it: GPIO on gpiozero's mock pins (pressed through a control
socket), meter buses and NFC readers on pseudo-terminals. The simulators'
control sockets live in `<state_dir>/sim/` for the demo, the tests and the
kiosk's on-screen simulator panel.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from drivers.health import DeviceHealth
from drivers.sim.paths import gpio_socket, sim_dir

from lobby.config import Config
from lobby.gateway.lobbyjobs import LobbyJobs
from lobby.gateway.meters import MetersComponent
from lobby.gateway.patrol import TICK_S, PatrolComponent
from lobby.gateway.service import GatewayService

log = logging.getLogger(__name__)


class GpioSimulation:
    """The mock panel's control socket (press buttons, read LEDs) while the gateway runs."""

    name = "gpio-simulator"

    def __init__(self, buttons: Any, socket_path: Path) -> None:
        self.buttons = buttons
        self.socket_path = socket_path
        self._server: Any = None

    def start(self) -> None:
        from drivers.gpio.sim import GpioControlServer, GpioSimulator

        sim = GpioSimulator(buttons=[p.button for p in self.buttons.panels.values()],
                            leds=[p.led for p in self.buttons.panels.values() if p.led is not None],
                            buzzers=[self.buttons.buzzer] if self.buttons.buzzer else [])
        self._server = GpioControlServer(sim, self.socket_path).start()
        log.info("simulated GPIO panel: control socket %s", self.socket_path)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def device_health(self) -> list[DeviceHealth]:
        return []


def _pin_factory(cfg: Config, simulate: bool) -> Any:
    from drivers.gpio import make_pin_factory

    if simulate or cfg.gpio.pin_factory == "mock":
        return make_pin_factory("mock")
    return make_pin_factory(None if cfg.gpio.pin_factory == "auto" else cfg.gpio.pin_factory)


def build_gateway(cfg: Config, config_path: Path | None, simulate: bool = False) -> GatewayService:
    from lobby.services import LobbyServices

    gateway = GatewayService(cfg, config_path, simulate=simulate)
    sims = sim_dir(cfg.state_dir)
    lobby = LobbyServices(gateway.store, cfg, card_key=gateway.runtime.card_key, alerts=gateway.alerts)
    gateway.add(LobbyJobs(lobby, gateway.scheduler))
    if cfg.meters:
        gateway.add(MetersComponent(cfg, gateway.store, gateway.alerts, simulate=simulate, sim_dir=sims))
    patrol = PatrolComponent(cfg, gateway.store, gateway.alerts, gateway.runtime.card_key,
                             simulate=simulate, sim_dir=sims)
    gateway.add(patrol)
    gateway.scheduler.every("patrol.tick", TICK_S, patrol.tick, first_after_s=1.0)
    if cfg.buttons or cfg.gpio.buzzer_pin is not None:
        # gpiozero (about 3 MB) only in a gateway that has a panel to drive
        from lobby.gateway.buttons import ButtonService

        buttons = ButtonService(cfg, gateway.store, gateway.alerts, lobby, _pin_factory(cfg, simulate))
        gateway.add(buttons)
        gateway.scheduler.every("buttons.leds", 1.0, buttons.sync_leds)
        if simulate:
            gateway.add(GpioSimulation(buttons, gpio_socket(sims)))
    return gateway
