"""RS-485 meter bus drivers: Modbus RTU (via pymodbus), DL/T 645-2007 and CJ/T 188-2004.

The gateway builds one :class:`MeterBus` per serial port, adds device specs and
polls ``bus.read(device)``, which returns a :class:`Reading` and never raises.

Beside the drivers: ``points`` (canonical point names and units, and how each
protocol names them), ``regmap`` and ``maps/`` (Modbus register maps), ``frame68``
(the 68h ... 16h framing DL/T 645 and CJ/T 188 share) and ``sim/`` (the wire-level
meter simulators and the simulation of whole lines).

May import: the standard library, pyserial and pymodbus, and :mod:`drivers.sim`
(the simulators' pty plumbing); never lobby, kiosk or mqtt_bridge.

The names below are resolved lazily, so importing ``drivers.meters.points`` or
``drivers.meters.regmap`` (config checks, Home Assistant discovery) does not load
pymodbus and the bus.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drivers.meters.bus import MeterBus, TransactionTrace
    from drivers.meters.decode import decode_frame
    from drivers.meters.device_state import Counters
    from drivers.meters.devices import Cjt188Device, DeviceSpec, Dlt645Device, ModbusDevice
    from drivers.meters.errors import (BadChecksum, BadCrc, BadEndByte, BadLength, BadStartByte, FrameError,
                                       MalformedFrame, TruncatedFrame)
    from drivers.meters.reading import PointValue, Quality, Reading
    from drivers.meters.regmap import RegisterMap, RegisterMapError, RegisterSpec, builtin_map_names, load_register_map
    from drivers.meters.serial_settings import SerialSettings

_HOMES = {
    "bus": ("MeterBus", "TransactionTrace"),
    "decode": ("decode_frame",),
    "device_state": ("Counters",),
    "devices": ("Cjt188Device", "DeviceSpec", "Dlt645Device", "ModbusDevice"),
    "errors": ("BadChecksum", "BadCrc", "BadEndByte", "BadLength", "BadStartByte", "FrameError", "MalformedFrame",
               "TruncatedFrame"),
    "reading": ("PointValue", "Quality", "Reading"),
    "regmap": ("RegisterMap", "RegisterMapError", "RegisterSpec", "builtin_map_names", "load_register_map"),
    "serial_settings": ("SerialSettings",),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"drivers.meters.{module}"), name)
