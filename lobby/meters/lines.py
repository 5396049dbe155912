"""The meter service's working state: each configured line (its bus driver and meters) and each meter's schedule."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from drivers.meters.bus import MeterBus
from drivers.meters.devices import DeviceSpec
from lobby.config.model import MeterConfig, SerialBusConfig
from lobby.meters.analysis import Hysteresis, MeterAnalyzer
from lobby.meters.points import Binding


@dataclass(slots=True)
class MeterState:
    cfg: MeterConfig
    points: list[Binding]
    kind: str
    billing: str | None
    spec: DeviceSpec | None
    analyzer: MeterAnalyzer | None
    error: str = ""  # why this meter cannot be polled (configuration); never polled then
    next_due: float = 0.0
    polls: int = 0


@dataclass
class BusRunner:
    cfg: SerialBusConfig
    bus: MeterBus
    meters: list[MeterState]
    down: Hysteresis = field(default_factory=Hysteresis)
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None
    cycles: int = 0
    last_cycle_s: float = 0.0
    last_cycle_meters: int = 0
    last_cycle_late_s: float = 0.0  # worst start of a poll after its due time, in the last cycle
    skipped_slots: int = 0  # due times missed because the line was busy (interval too short)
    write_errors: int = 0
