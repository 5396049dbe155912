"""Wire-level meter simulators on pseudo-terminals: Modbus RTU, DL/T 645-2007, CJ/T 188-2004."""

from drivers.sim.meters.config import build_device, load_config
from drivers.sim.meters.devices import SimCjt188Meter, SimDlt645Meter, SimMeter, SimModbusDevice
from drivers.sim.meters.faults import Fault, FaultSpec
from drivers.sim.meters.line import SimBus

__all__ = [
    "Fault",
    "FaultSpec",
    "SimBus",
    "SimCjt188Meter",
    "SimDlt645Meter",
    "SimMeter",
    "SimModbusDevice",
    "build_device",
    "load_config",
]
