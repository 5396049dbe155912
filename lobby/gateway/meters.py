"""The meter service as a gateway component, on the real buses or on simulated ones."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from drivers.health import DeviceHealth

from mqtt_bridge.alerts import AlertEngine
from lobby.config import Config
from mqtt_bridge.store import Store

log = logging.getLogger(__name__)


class MetersComponent:
    name = "meters"

    def __init__(self, cfg: Config, store: Store, alerts: AlertEngine, simulate: bool = False,
                 sim_dir: Path | None = None) -> None:
        self.cfg = cfg
        self.store = store
        self.alerts = alerts
        self.simulate = simulate
        self.sim_dir = sim_dir
        self.sim: Any = None
        self.service: Any = None
        self.lines_store: Store | None = None

    def start(self) -> None:
        from lobby.meters import MeterService

        cfg = self.cfg
        if self.simulate:
            # the lines' simulators speak the real wire protocols on ptys, in a child process;
            # faults are injected through <state_dir>/sim/meters.sock
            from lobby.meters.simulate import start_simulation_process

            cfg, self.sim = start_simulation_process(cfg, folder=self.sim_dir)
            log.info("simulated meter lines: %s", ", ".join(b.port for b in cfg.buses))
        # the lines take turns on one store connection rather than one each (Store.serialized)
        self.lines_store = self.store.serialized()
        self.service = MeterService(cfg, self.lines_store, self.alerts)
        self.service.start()

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop(timeout=5.0)
        if self.lines_store is not None:
            self.lines_store.close()
        if self.sim is not None:
            self.sim.stop()

    def device_health(self) -> list[DeviceHealth]:
        return self.service.device_health() if self.service is not None else []
