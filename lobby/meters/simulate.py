"""Simulated meter lines for a configuration (``lobby gateway --simulate``, the demo and tests).

``start_simulation(cfg)`` turns every ``[[buses]]`` entry and its ``[[meters]]`` into the
plain specs of :class:`drivers.meters.sim.simulation.MeterSimulation` and starts it: one
wire-level line per bus on a pseudo-terminal, linked at ``<state_dir>/sim/<bus-id>``. It
returns the configuration with every bus port pointed at its link, and the simulation
(steer the meters, inject faults). ``start_simulation_process(cfg)`` does the same in a
child process (the gateway under ``--simulate``: drivers/meters/sim/launch.py says why),
steered through ``meters.sock``. The gateway then runs its real bus drivers against it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from drivers.meters.points import WATER_TYPES
from drivers.meters.sim.launch import SimulatedMeterLines
from drivers.meters.sim.specs import SimBusSpec, SimMeterSpec
from drivers.sim.paths import meters_socket, sim_dir

from lobby.config.model import Config, MeterConfig
from lobby.meters.wiring import serial_settings

if TYPE_CHECKING:
    from drivers.meters.sim.simulation import MeterSimulation

__all__ = ["SimulatedMeterLines", "bus_specs", "start_simulation", "start_simulation_process"]


def _meter_spec(meter: MeterConfig) -> SimMeterSpec:
    if meter.protocol == "modbus":
        return SimMeterSpec(meter.id, "modbus", meter.address, register_map=meter.map)
    return SimMeterSpec(meter.id, meter.protocol, meter.padded_address, meter_type=WATER_TYPES[meter.water_type])


def bus_specs(cfg: Config) -> list[SimBusSpec]:
    """One spec per configured bus, its meters in configuration order."""
    return [SimBusSpec(bus.id, serial_settings(bus), tuple(_meter_spec(m) for m in cfg.meters if m.bus == bus.id))
            for bus in cfg.buses]


def start_simulation(cfg: Config, *, folder: Path | str | None = None, time_scale: float = 1.0,
                     seed: int | None = None, drift: bool = True,
                     control_socket: bool = False) -> tuple[Config, MeterSimulation]:
    """Start simulated lines for every configured bus; returns (config with ports on the links, control).

    Links are ``<folder>/<bus-id>`` (default folder ``<state_dir>/sim``); with ``control_socket`` the
    control API is also served on ``<folder>/meters.sock`` for other processes."""
    from drivers.meters.sim.simulation import MeterSimulation  # the simulators, in this process

    where = Path(folder) if folder is not None else sim_dir(cfg.state_dir)
    sim = MeterSimulation(bus_specs(cfg), where, time_scale=time_scale, seed=seed, drift=drift).start()
    if control_socket:
        sim.serve(meters_socket(where))
    return _on_links(cfg, sim.links), sim


def start_simulation_process(cfg: Config, *, folder: Path | str | None = None) -> tuple[Config, SimulatedMeterLines]:
    """`start_simulation` in a child process, its control API on ``<folder>/meters.sock``."""
    lines = SimulatedMeterLines(Path(folder) if folder is not None else sim_dir(cfg.state_dir), bus_specs(cfg))
    return _on_links(cfg, lines.start()), lines


def _on_links(cfg: Config, links: dict[str, Path]) -> Config:
    buses = [bus.model_copy(update={"port": str(links[bus.id])}) for bus in cfg.buses]
    return cfg.model_copy(update={"buses": buses})
