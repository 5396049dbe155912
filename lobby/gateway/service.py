"""The gateway service: the bridge plus the building's devices, as one process.

Components (meters, patrol, buttons, readers) are started in order and stopped
in reverse; each reports its devices' health for the health report and the
facility KPI. The scheduler drives every timer. Nothing here talks to a
screen: a plant-room Pi runs exactly this.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path
from typing import Protocol

from drivers.health import DeviceHealth

from lobby.config import Config
from lobby.runtime import Runtime
from lobby.gateway.backup_upload import TICK_S, BackupUploader
from lobby.gateway.health import HealthMonitor
from lobby.gateway.scheduler import Scheduler

log = logging.getLogger(__name__)


class Component(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def device_health(self) -> list[DeviceHealth]: ...


class GatewayService:
    def __init__(self, cfg: Config, config_path: Path | None, simulate: bool = False) -> None:
        self.cfg = cfg
        self.simulate = simulate
        self.runtime = Runtime(cfg, config_path)
        self.store = self.runtime.store
        self.alerts = self.runtime.alerts
        self.scheduler = Scheduler(cfg.site.timezone)
        self.components: list[Component] = []
        self.health = HealthMonitor(cfg, self.store, self.alerts, lambda: self.runtime.bridge.link_up,
                                    self.device_health, broker=lambda: self.runtime.bridge.broker)
        self.scheduler.every("health", cfg.alerts.health_interval_s, self.health.run_once, first_after_s=2.0)
        self.scheduler.daily("facility.kpi", dt.time(0, 10), lambda day: self.health.daily_kpi(day))
        if cfg.store.backup_target == "central":  # `lobby backup` registers each copy; this sends it
            uploader = BackupUploader(self.store)
            self.scheduler.every("backup.upload", TICK_S, uploader.tick, first_after_s=3.0)

    def add(self, component: Component) -> None:
        self.components.append(component)

    def device_health(self) -> list[DeviceHealth]:
        devices: list[DeviceHealth] = []
        for component in self.components:
            devices.extend(component.device_health())
        return devices

    @property
    def restart_requested(self) -> threading.Event:
        return self.runtime.restart_requested

    def start(self) -> None:
        self.runtime.start()
        for component in self.components:
            log.info("starting %s", component.name)
            component.start()
        self.scheduler.start()
        self.store.close_thread_connection()  # if a component's start used the store from this thread
        log.info("gateway running: %d component(s)%s", len(self.components), " (simulated hardware)" if self.simulate else "")

    def stop(self) -> None:
        self.scheduler.stop()
        for component in reversed(self.components):
            try:
                component.stop()
            except Exception:  # keep stopping the rest
                log.exception("stopping %s failed", component.name)
        self.runtime.stop()

    def alive(self) -> bool:
        return self.scheduler.alive()
