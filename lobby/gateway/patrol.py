"""Patrol on the gateway: the engine's timer and the readers wired to the gateway.

Readers whose `host` is "gateway" (checkpoint readers in corridors and plant
rooms) feed their taps straight to the patrol engine; the kiosk's own reader is
the kiosk's business. `tick()` runs every few seconds so a missed checkpoint is
reported even if nothing is ever tapped. With --simulate each gateway libnfc
reader is a PN532 simulator on a pseudo-terminal (drivers.nfc.sim.launch), driven
through its control socket `<state_dir>/sim/<reader-id>.sock`, and the real libnfc
driver reads it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from drivers.health import DeviceHealth
from drivers.nfc import TagEvent
from drivers.nfc.factory import make_reader

from mqtt_bridge.alerts import AlertEngine
from lobby.config import Config
from mqtt_bridge.store import Store, StoreError

log = logging.getLogger(__name__)

TICK_S = 5.0


class PatrolComponent:
    name = "patrol"

    def __init__(self, cfg: Config, store: Store, alerts: AlertEngine, card_key: bytes,
                 simulate: bool = False, sim_dir: Path | None = None) -> None:
        from lobby.patrol import PatrolEngine

        self.cfg = cfg
        self.store = store
        self.engine = PatrolEngine(cfg, store, alerts, card_key=card_key)
        self.simulate = simulate
        self.sim_dir = sim_dir
        self.readers: list[Any] = []
        self.sim: Any = None

    def start(self) -> None:
        mine = [r for r in self.cfg.readers if r.host == "gateway"]
        to_simulate = [r.id for r in mine if r.kind == "libnfc"] if self.simulate else []
        simulated: dict[str, str] = {}
        if to_simulate:
            from drivers.nfc.sim.launch import SimulatedReaders

            assert self.sim_dir is not None
            self.sim = SimulatedReaders(self.sim_dir, to_simulate)
            simulated = self.sim.start()
        for reader_cfg in mine:
            reader = make_reader(reader_cfg.id, reader_cfg.kind,
                                 connstring=simulated.get(reader_cfg.id, reader_cfg.connstring),
                                 device=reader_cfg.device, retap_window_s=reader_cfg.retap_window_s)
            reader.start(self._on_event)
            self.readers.append(reader)

    def _on_event(self, event: TagEvent) -> None:
        if event.kind != "tap":
            return
        try:
            with self.store.connection_released_after():  # the reader's thread: taps are minutes apart
                result = self.engine.on_tag(event)
        except (StoreError, ValueError) as exc:
            log.error("patrol tap on %s not recorded: %s", event.reader_id, exc)
            return
        if result is not None:
            log.info("patrol tap on %s: %s", event.reader_id, result.status)

    def tick(self) -> None:
        self.engine.tick()

    def stop(self) -> None:
        for reader in self.readers:
            reader.stop()
        if self.sim is not None:
            self.sim.stop()

    def device_health(self) -> list[DeviceHealth]:
        return [reader.health for reader in self.readers]
