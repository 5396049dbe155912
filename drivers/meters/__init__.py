"""RS-485 meter bus drivers: Modbus RTU (via pymodbus), DL/T 645-2007 and CJ/T 188-2004.

The gateway builds one :class:`MeterBus` per serial port, adds device specs and
polls ``bus.read(device)``, which returns a :class:`Reading` and never raises.
"""

from drivers.meters.bus import MeterBus, TransactionTrace
from drivers.meters.decode import decode_frame
from drivers.meters.device_state import Counters
from drivers.meters.devices import Cjt188Device, DeviceSpec, Dlt645Device, ModbusDevice
from drivers.meters.errors import BadChecksum, BadCrc, BadEndByte, BadLength, BadStartByte, FrameError, MalformedFrame, TruncatedFrame
from drivers.meters.reading import PointValue, Quality, Reading
from drivers.meters.regmap import RegisterMap, RegisterMapError, RegisterSpec, builtin_map_names, load_register_map
from drivers.meters.serial_settings import SerialSettings

__all__ = [
    "BadChecksum",
    "BadCrc",
    "BadEndByte",
    "BadLength",
    "BadStartByte",
    "Cjt188Device",
    "Counters",
    "DeviceSpec",
    "Dlt645Device",
    "FrameError",
    "MalformedFrame",
    "MeterBus",
    "ModbusDevice",
    "PointValue",
    "Quality",
    "Reading",
    "RegisterMap",
    "RegisterMapError",
    "RegisterSpec",
    "SerialSettings",
    "TransactionTrace",
    "TruncatedFrame",
    "builtin_map_names",
    "decode_frame",
    "load_register_map",
]
