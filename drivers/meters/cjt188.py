"""CJ/T 188-2004 frame codec (household water, gas and heat meters).

Frame: ``FE*(0..4) 68 T A0..A6 C L DATA CS 16``. T is the meter type (10h cold
water), the address is 7 bytes least significant first (A5 A6 usually carry the
maker code), CS is the byte sum from 68 to the end of DATA. Read data (C=01h)
carries ``DI SER``; the data identifier 901Fh goes low byte first by default
(``1F 90``, as most meters and concentrators send it). Reply C=81h, abnormal C1h.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.meters import frame68
from drivers.meters.bcd import address_from_wire, address_to_wire, decode_bcd, decode_scaled, encode_bcd, encode_scaled
from drivers.meters.errors import MalformedFrame
from drivers.meters.frame68 import START

MAX_DATA = 64
MIN_FRAME = 13
BROADCAST_ADDRESS = "AAAAAAAAAAAAAA"

FN_READ = 0x01
FN_READ_ADDRESS = 0x03
FN_WRITE = 0x04
DI_MEASUREMENT = 0x901F  # current cumulative flow, settlement-day flow, clock, status

METER_TYPES = {
    0x10: "cold water meter",
    0x11: "domestic hot water meter",
    0x12: "drinking water meter",
    0x13: "reclaimed water meter",
    0x20: "heat meter (heat)",
    0x21: "heat meter (cooling)",
    0x30: "gas meter",
    0x40: "electricity meter",
}
WATER_TYPES = frozenset({0x10, 0x11, 0x12, 0x13})

FUNCTION_NAMES = {
    FN_READ: "read data",
    FN_READ_ADDRESS: "read address",
    FN_WRITE: "write data",
    0x09: "read key version",
    0x15: "write address",
    0x16: "write motor sync data",
}

# Unit byte -> (unit text, factor to the canonical unit used in readings).
UNITS: dict[int, tuple[str, float, str]] = {
    0x01: ("J", 1.0, "J"),
    0x02: ("Wh", 0.001, "kWh"),
    0x05: ("kWh", 1.0, "kWh"),
    0x08: ("MWh", 1000.0, "kWh"),
    0x0A: ("MWh x 100", 100000.0, "kWh"),
    0x0B: ("kJ", 1.0, "kJ"),
    0x0E: ("MJ", 1.0, "MJ"),
    0x11: ("GJ", 1.0, "GJ"),
    0x13: ("GJ x 100", 100.0, "GJ"),
    0x14: ("W", 1.0, "W"),
    0x17: ("kW", 1.0, "kW"),
    0x1A: ("MW", 1.0, "MW"),
    0x29: ("L", 0.001, "m³"),
    0x2C: ("m³", 1.0, "m³"),
    0x32: ("L/h", 0.001, "m³/h"),
    0x35: ("m³/h", 1.0, "m³/h"),
}
UNIT_M3 = 0x2C

VALVE_STATES = {0: "open", 1: "closed", 2: "unknown", 3: "abnormal"}


@dataclass(frozen=True)
class Frame(frame68.ControlBits):
    meter_type: int
    address: str  # 14 hex digits as printed, most significant first
    control: int
    data: bytes
    preamble: int = 0

    @property
    def function(self) -> int:
        return self.control & 0x3F


@dataclass(frozen=True)
class Status:
    raw: bytes

    @property
    def valve(self) -> str:
        return VALVE_STATES[self.raw[0] & 0x03]

    @property
    def battery_low(self) -> bool:
        return bool(self.raw[0] & 0x04)

    def as_dict(self) -> dict[str, object]:
        return {"status_hex": self.raw.hex(" ").upper(), "valve": self.valve,
                "battery_low": self.battery_low}


@dataclass(frozen=True)
class Measurement:
    """The water/gas reply to DI 901F, volumes converted to the canonical unit."""

    ser: int
    volume: float
    volume_unit: str
    settlement_volume: float
    settlement_unit: str
    meter_time: str
    status: Status


def di_bytes(di: int, low_first: bool = True) -> bytes:
    return di.to_bytes(2, "little" if low_first else "big")


def read_di(data: bytes) -> tuple[int, bool]:
    """Return (DI, low_first) from the first two data bytes, knowing 901F both ways round."""
    high_first = (data[0] << 8) | data[1]
    low_first = (data[1] << 8) | data[0]
    if low_first == DI_MEASUREMENT:
        return low_first, True
    if high_first == DI_MEASUREMENT:
        return high_first, False
    return low_first, True


def encode_frame(meter_type: int, address: str, control: int, data: bytes = b"",
                 preamble: int = 4) -> bytes:
    frame68.check_preamble(preamble)
    if len(data) > MAX_DATA:
        raise ValueError(f"CJ/T 188 data is at most {MAX_DATA} bytes")
    body = bytearray([START, meter_type & 0xFF])
    body += address_to_wire(address, 7)
    body += bytes([control & 0xFF, len(data)])
    body += data
    return frame68.wrap(body, preamble)


def parse_frame(buf: bytes) -> tuple[Frame, int]:
    """Parse the frame starting at ``buf[0]`` (after any FE); return it and its size."""
    i, total = frame68.locate(buf, length_at=10, min_frame=MIN_FRAME, max_data=MAX_DATA, limit=str(MAX_DATA))
    frame = Frame(buf[i + 1], address_from_wire(buf[i + 2 : i + 9]), buf[i + 9],
                  bytes(buf[i + 11 : total - 2]), preamble=i)
    return frame, total


def build_read(meter_type: int, address: str, ser: int = 0, *, di_low_first: bool = True,
               preamble: int = 4) -> bytes:
    data = di_bytes(DI_MEASUREMENT, di_low_first) + bytes([ser & 0xFF])
    return encode_frame(meter_type, address, FN_READ, data, preamble)


def _volume(raw: bytes, unit: int, what: str) -> tuple[float, str]:
    if unit not in UNITS:
        raise MalformedFrame(f"unknown unit byte {unit:02X} for {what}")
    _, factor, canonical = UNITS[unit]
    return decode_scaled(raw, 2) * factor, canonical


def _meter_time(raw: bytes) -> str:
    sec, minute, hour, day, month = (decode_bcd(raw[k : k + 1]) for k in range(5))
    year = decode_bcd(raw[5:7])
    return f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{sec:02d}"


def decode_measurement(data: bytes) -> Measurement:
    """Decode the 901F reply data: DI SER flow+unit settlement+unit time(7) ST(2)."""
    if len(data) < 22:
        raise MalformedFrame(f"901F reply needs 22 data bytes, has {len(data)}")
    di, _ = read_di(data)
    if di != DI_MEASUREMENT:
        raise MalformedFrame(f"reply data identifier {data[0]:02X} {data[1]:02X} is not 901F")
    volume, unit = _volume(data[3:7], data[7], "current cumulative flow")
    settle, settle_unit = _volume(data[8:12], data[12], "settlement-day cumulative flow")
    return Measurement(data[2], volume, unit, settle, settle_unit, _meter_time(data[13:20]),
                       Status(bytes(data[20:22])))


def encode_measurement(ser: int, volume_m3: float, settlement_m3: float, meter_time: tuple[int, ...],
                       status: bytes, *, di_low_first: bool = True) -> bytes:
    """Build 901F reply data; ``meter_time`` is (year, month, day, hour, minute, second)."""
    year, month, day, hour, minute, second = meter_time
    clock = b"".join(encode_bcd(v, 1) for v in (second, minute, hour, day, month)) + encode_bcd(year, 2)
    return (di_bytes(DI_MEASUREMENT, di_low_first) + bytes([ser & 0xFF])
            + encode_scaled(volume_m3, 4, 2) + bytes([UNIT_M3])
            + encode_scaled(settlement_m3, 4, 2) + bytes([UNIT_M3])
            + clock + status)


def describe(frame: Frame) -> dict[str, object]:
    """Everything an installer wants to know about one frame, JSON-ready."""
    out: dict[str, object] = {
        "protocol": "cjt188",
        "preamble_bytes": frame.preamble,
        "meter_type": f"{frame.meter_type:02X}",
        "meter_type_name": METER_TYPES.get(frame.meter_type, "unknown meter type"),
        "address": frame.address,
        "broadcast": frame.address == BROADCAST_ADDRESS,
        "control": f"{frame.control:02X}",
        "direction": "reply" if frame.is_reply else "request",
        "abnormal": frame.is_abnormal,
        "function": FUNCTION_NAMES.get(frame.function, f"unknown function {frame.function:02X}"),
        "length": len(frame.data),
        "data_hex": frame.data.hex(" ").upper(),
    }
    data = frame.data
    if frame.is_reply and frame.is_abnormal:
        if len(data) >= 3:
            out["ser"] = data[0]
            out.update(Status(bytes(data[1:3])).as_dict())
        return out
    if frame.function != FN_READ or len(data) < 3:
        return out
    di, low_first = read_di(data)
    out["data_identifier"] = f"{di:04X}"
    out["di_order"] = "low byte first" if low_first else "high byte first"
    out["ser"] = data[2]
    if frame.is_reply and di == DI_MEASUREMENT:
        if frame.meter_type not in WATER_TYPES:
            out["note"] = "901F layout decoded for water meters (types 10h-13h) only"
            return out
        m = decode_measurement(data)
        out.update({
            "volume": m.volume, "volume_unit": m.volume_unit,
            "unit_byte": f"{data[7]:02X}",
            "settlement_volume": m.settlement_volume, "settlement_unit": m.settlement_unit,
            "meter_time": m.meter_time,
        })
        out.update(m.status.as_dict())
    return out
