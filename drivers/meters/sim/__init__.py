"""Wire-level meter simulators on pseudo-terminals: Modbus RTU, DL/T 645-2007, CJ/T 188-2004.

``SimBus`` is one RS-485 line on a pty with simulated meters on it (``devices``),
faults to inject (``faults``) and wire timing kept as a real line would;
``python -m drivers.meters.sim`` runs a line from a TOML file (``config``, see
``examples/``). ``MeterSimulation`` (``simulation``) runs several lines from plain
per-bus and per-meter specs, steers the meters in canonical points, drifts their
values and serves a control socket: what ``--simulate`` and the demo run. The meter
drivers they answer are one folder up, in :mod:`drivers.meters`.

May import: the standard library, the meter drivers (:mod:`drivers.meters`) and the
shared simulator plumbing (:mod:`drivers.sim`); never lobby, kiosk or mqtt_bridge.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Imported when first named: a process that only launches the simulation in a child
# (drivers/meters/sim/launch.py) must not load the simulators themselves.
_WHERE = {
    "build_device": "config", "load_config": "config",
    "SimCjt188Meter": "devices", "SimDlt645Meter": "devices", "SimMeter": "devices", "SimModbusDevice": "devices",
    "Fault": "faults", "FaultSpec": "faults", "SimBus": "line", "MeterSimulation": "simulation",
    "SimBusSpec": "specs", "SimMeterSpec": "specs",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"drivers.meters.sim.{_WHERE[name]}"), name)
    raise AttributeError(name)


__all__ = [
    "Fault",
    "FaultSpec",
    "MeterSimulation",
    "SimBus",
    "SimBusSpec",
    "SimCjt188Meter",
    "SimDlt645Meter",
    "SimMeter",
    "SimMeterSpec",
    "SimModbusDevice",
    "build_device",
    "load_config",
]
