"""Patrol on the gateway: the engine's timer and the readers wired to the gateway.

Readers whose `host` is "gateway" (checkpoint readers in corridors and plant
rooms) feed their taps straight to the patrol engine; the kiosk's own reader is
the kiosk's business. `tick()` runs every few seconds so a missed checkpoint is
reported even if nothing is ever tapped. With --simulate each gateway reader is
a PN532 simulator on a pseudo-terminal, driven through its control socket
`<state_dir>/sim/<reader-id>.sock`, and the real libnfc driver reads it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from drivers.health import DeviceHealth
from drivers.nfc import TagEvent

from mqtt_bridge.alerts import AlertEngine
from lobby.config import Config
from lobby.config.model import NfcReaderConfig
from mqtt_bridge.store import Store, StoreError

log = logging.getLogger(__name__)

TICK_S = 5.0


def make_reader(reader: NfcReaderConfig, connstring: str | None = None) -> Any:
    from drivers.nfc import HidWedgeReader, LibnfcReader

    if reader.kind == "hid":
        return HidWedgeReader(reader.id, reader.device, retap_window_s=reader.retap_window_s)
    return LibnfcReader(reader.id, connstring or reader.connstring or "", retap_window_s=reader.retap_window_s)


class PatrolComponent:
    name = "patrol"

    def __init__(self, cfg: Config, store: Store, alerts: AlertEngine, card_key: bytes,
                 simulate: bool = False, sim_dir: Path | None = None) -> None:
        from lobby.patrol import PatrolEngine

        self.cfg = cfg
        self.engine = PatrolEngine(cfg, store, alerts, card_key=card_key)
        self.simulate = simulate
        self.sim_dir = sim_dir
        self.readers: list[Any] = []
        self._sims: list[Any] = []

    def start(self) -> None:
        for reader_cfg in (r for r in self.cfg.readers if r.host == "gateway"):
            connstring = None
            if self.simulate and reader_cfg.kind == "libnfc":
                connstring = self._start_simulator(reader_cfg.id)
            reader = make_reader(reader_cfg, connstring)
            reader.start(self._on_event)
            self.readers.append(reader)

    def _start_simulator(self, reader_id: str) -> str:
        from drivers.nfc.sim.pn532 import PN532Simulator
        from drivers.nfc.sim.pn532_control import ControlServer

        assert self.sim_dir is not None
        sim = PN532Simulator(self.sim_dir / f"{reader_id}.tty").start()
        control = ControlServer(sim, self.sim_dir / f"{reader_id}.sock").start()
        self._sims += [control, sim]
        log.info("simulated reader %s: control socket %s", reader_id, self.sim_dir / f"{reader_id}.sock")
        return f"pn532_uart:{sim.link}"

    def _on_event(self, event: TagEvent) -> None:
        if event.kind != "tap":
            return
        try:
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
        for sim in self._sims:
            sim.stop()

    def device_health(self) -> list[DeviceHealth]:
        return [reader.health for reader in self.readers]
