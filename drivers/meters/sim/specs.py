"""What a simulation is made of: plain per-line and per-meter specs, nothing that runs.

Kept apart from :mod:`drivers.meters.sim.simulation` so that a process which only starts
the simulation in a child (the gateway under ``--simulate``: launch.py) need not import
the simulators, pymodbus's datastore and simulator among them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from drivers.meters.serial_settings import SerialSettings


@dataclass(frozen=True)
class SimMeterSpec:
    """One simulated meter, as the bus drivers will poll it."""

    meter_id: str
    protocol: Literal["modbus", "dlt645", "cjt188"]
    address: str  # DL/T 645 (12 digits) or CJ/T 188 (14 digits) address, or the Modbus unit id
    meter_type: int = 0x10  # CJ/T 188: the meter type byte (10h cold water ... 13h reclaimed water)
    register_map: str | None = None  # Modbus: a shipped map, its short alias, or a map file


@dataclass(frozen=True)
class SimBusSpec:
    """One RS-485 line: its serial settings and its meters, in polling order."""

    bus_id: str
    settings: SerialSettings
    meters: tuple[SimMeterSpec, ...] = ()
