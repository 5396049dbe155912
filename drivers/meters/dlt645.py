"""DL/T 645-2007 frame codec and data-identifier catalogue.

Frame: ``FE*(0..4) 68 A0..A5 68 C L DATA CS 16``. The address is 6 BCD bytes,
least significant first; DATA travels with 0x33 added to every byte; CS is the
byte sum (mod 256) from the first 68 to the end of DATA. Control code bits:
D7 direction (1 = reply), D6 abnormal reply, D5 follow-up frames, D4..D0 function.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.meters import frame68
from drivers.meters.bcd import address_from_wire, address_to_wire, decode_scaled, encode_scaled
from drivers.meters.errors import MalformedFrame
from drivers.meters.frame68 import START

DATA_OFFSET = 0x33
MAX_DATA = 200  # the standard's limit for a read reply
MIN_FRAME = 12
BROADCAST_ADDRESS = "AAAAAAAAAAAA"  # read-address request to the only meter on the line

FN_BROADCAST_TIME = 0x08
FN_READ = 0x11
FN_READ_FOLLOW_UP = 0x12
FN_READ_ADDRESS = 0x13
FN_WRITE = 0x14

FUNCTION_NAMES = {
    FN_BROADCAST_TIME: "broadcast time sync",
    FN_READ: "read data",
    FN_READ_FOLLOW_UP: "read follow-up data",
    FN_READ_ADDRESS: "read address",
    FN_WRITE: "write data",
    0x15: "write address",
    0x16: "freeze",
    0x17: "change baud rate",
    0x18: "change password",
    0x19: "clear maximum demand",
    0x1A: "clear meter",
    0x1B: "clear events",
}

# Error byte of an abnormal reply (control D1h etc.), bit by bit.
ERROR_BITS = (
    (0x01, "other error"),
    (0x02, "no data requested"),
    (0x04, "wrong password or not authorised"),
    (0x08, "baud rate cannot be changed"),
    (0x10, "over annual time zones"),
    (0x20, "over daily time zones"),
    (0x40, "over rate count"),
)


def describe_error_byte(err: int) -> list[str]:
    reasons = [text for bit, text in ERROR_BITS if err & bit]
    if err & 0x80:
        reasons.append("reserved bit 7 set")
    return reasons or ["no error bit set"]


@dataclass(frozen=True)
class DataItem:
    """One data identifier: where a value lives and how its BCD is scaled."""

    di: int
    name: str
    description: str
    nbytes: int
    decimals: int
    unit: str
    signed: bool = False
    cumulative: bool = False

    @property
    def di_hex(self) -> str:
        return f"{self.di:08X}"

    def decode(self, raw: bytes) -> float:
        if len(raw) < self.nbytes:
            raise MalformedFrame(
                f"{self.name} ({self.di_hex}) needs {self.nbytes} data bytes, reply has {len(raw)}"
            )
        return decode_scaled(raw[: self.nbytes], self.decimals, signed=self.signed)

    def encode(self, value: float) -> bytes:
        return encode_scaled(value, self.nbytes, self.decimals, signed=self.signed)


_ITEMS = (
    DataItem(0x00000000, "energy_combined", "combined active energy, total", 4, 2, "kWh", True, True),
    DataItem(0x00010000, "energy_import", "forward (import) active energy, total", 4, 2, "kWh", False, True),
    DataItem(0x00020000, "energy_export", "reverse (export) active energy, total", 4, 2, "kWh", False, True),
    DataItem(0x02010100, "voltage_a", "phase A voltage", 2, 1, "V"),
    DataItem(0x02010200, "voltage_b", "phase B voltage", 2, 1, "V"),
    DataItem(0x02010300, "voltage_c", "phase C voltage", 2, 1, "V"),
    DataItem(0x02020100, "current_a", "phase A current", 3, 3, "A", True),
    DataItem(0x02020200, "current_b", "phase B current", 3, 3, "A", True),
    DataItem(0x02020300, "current_c", "phase C current", 3, 3, "A", True),
    DataItem(0x02030000, "power", "instantaneous active power, total", 3, 4, "kW", True),
    DataItem(0x02030100, "power_a", "instantaneous active power, phase A", 3, 4, "kW", True),
    DataItem(0x02030200, "power_b", "instantaneous active power, phase B", 3, 4, "kW", True),
    DataItem(0x02030300, "power_c", "instantaneous active power, phase C", 3, 4, "kW", True),
    DataItem(0x02060000, "power_factor", "power factor, total", 2, 3, "", True),
    DataItem(0x02800002, "frequency", "grid frequency", 2, 2, "Hz"),
)
DATA_ITEMS: dict[int, DataItem] = {item.di: item for item in _ITEMS}
ITEMS_BY_NAME: dict[str, DataItem] = {item.name: item for item in _ITEMS}


@dataclass(frozen=True)
class Frame(frame68.ControlBits):
    address: str  # 12 hex digits as printed on the meter, most significant first
    control: int
    data: bytes  # the 0x33 offset already removed
    preamble: int = 0

    @property
    def has_follow_up(self) -> bool:
        return bool(self.control & 0x20)

    @property
    def function(self) -> int:
        return self.control & 0x1F

    @property
    def di(self) -> int | None:
        if len(self.data) < 4:
            return None
        return int.from_bytes(self.data[:4], "little")


def encode_frame(address: str, control: int, data: bytes = b"", preamble: int = 4) -> bytes:
    frame68.check_preamble(preamble)
    if len(data) > MAX_DATA:
        raise ValueError(f"DL/T 645 data is at most {MAX_DATA} bytes")
    body = bytearray([START])
    body += address_to_wire(address, 6)
    body += bytes([START, control & 0xFF, len(data)])
    body += bytes((b + DATA_OFFSET) & 0xFF for b in data)
    return frame68.wrap(body, preamble)


def parse_frame(buf: bytes) -> tuple[Frame, int]:
    """Parse the frame starting at ``buf[0]`` (after any FE); return it and its size."""
    i, total = frame68.locate(buf, length_at=9, min_frame=MIN_FRAME, max_data=MAX_DATA,
                              limit=f"the standard's {MAX_DATA}", second_start=7)
    data = bytes((b - DATA_OFFSET) & 0xFF for b in buf[i + 10 : total - 2])
    frame = Frame(address_from_wire(buf[i + 1 : i + 7]), buf[i + 8], data, preamble=i)
    return frame, total


def build_read(address: str, di: int, preamble: int = 4) -> bytes:
    return encode_frame(address, FN_READ, di.to_bytes(4, "little"), preamble)


def build_read_address(preamble: int = 4) -> bytes:
    return encode_frame(BROADCAST_ADDRESS, FN_READ_ADDRESS, b"", preamble)


def build_read_reply(address: str, di: int, value_bytes: bytes, preamble: int = 4) -> bytes:
    return encode_frame(address, 0x80 | FN_READ, di.to_bytes(4, "little") + value_bytes, preamble)


def build_abnormal_reply(address: str, function: int, err: int, preamble: int = 4) -> bytes:
    return encode_frame(address, 0xC0 | function, bytes([err]), preamble)


def build_address_reply(address: str, preamble: int = 4) -> bytes:
    return encode_frame(address, 0x80 | FN_READ_ADDRESS, address_to_wire(address, 6), preamble)


def describe(frame: Frame) -> dict[str, object]:
    """Everything an installer wants to know about one frame, JSON-ready."""
    out: dict[str, object] = {
        "protocol": "dlt645",
        "preamble_bytes": frame.preamble,
        "address": frame.address,
        "broadcast": frame.address == BROADCAST_ADDRESS,
        "control": f"{frame.control:02X}",
        "direction": "reply" if frame.is_reply else "request",
        "abnormal": frame.is_abnormal,
        "follow_up": frame.has_follow_up,
        "function": FUNCTION_NAMES.get(frame.function, f"unknown function {frame.function:02X}"),
        "length": len(frame.data),
        "data_hex": frame.data.hex(" ").upper(),
    }
    if frame.is_reply and frame.is_abnormal:
        err = frame.data[0] if frame.data else 0
        out["error_code"] = f"{err:02X}"
        out["errors"] = describe_error_byte(err)
        return out
    if frame.function in (FN_READ, FN_READ_FOLLOW_UP) and frame.di is not None:
        di = frame.di
        out["data_identifier"] = f"{di:08X}"
        item = DATA_ITEMS.get(di)
        if item is not None:
            out["item"] = item.name
            out["description"] = item.description
        if frame.is_reply:
            raw = frame.data[4:]
            out["value_hex"] = raw.hex(" ").upper()
            if item is not None:
                out["value"] = item.decode(raw)
                out["unit"] = item.unit
    elif frame.function == FN_READ_ADDRESS and frame.is_reply:
        if len(frame.data) != 6:
            raise MalformedFrame(f"read-address reply carries {len(frame.data)} bytes, expected 6")
        out["reported_address"] = address_from_wire(frame.data)
    return out
