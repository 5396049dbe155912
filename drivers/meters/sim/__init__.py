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

from drivers.meters.sim.config import build_device, load_config
from drivers.meters.sim.devices import SimCjt188Meter, SimDlt645Meter, SimMeter, SimModbusDevice
from drivers.meters.sim.faults import Fault, FaultSpec
from drivers.meters.sim.line import SimBus
from drivers.meters.sim.simulation import MeterSimulation, SimBusSpec, SimMeterSpec

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
