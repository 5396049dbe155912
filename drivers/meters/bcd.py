"""Packed BCD as DL/T 645 and CJ/T 188 put it on the wire.

Both standards send multi-byte numbers least significant byte first. A signed
quantity uses the most significant bit of the most significant byte (the last
byte on the wire) as its sign, leaving 7 bits (digit 0..7) for the top digit.
"""

from __future__ import annotations

from drivers.meters.errors import MalformedFrame

_HEX = set("0123456789ABCDEF")


def decode_bcd(data: bytes, *, signed: bool = False) -> int:
    """Decode little-endian packed BCD; raises MalformedFrame on a non-decimal digit."""
    negative = False
    if signed and data:
        negative = bool(data[-1] & 0x80)
        data = data[:-1] + bytes([data[-1] & 0x7F])
    value = 0
    for byte in reversed(data):
        high, low = byte >> 4, byte & 0x0F
        if high > 9 or low > 9:
            raise MalformedFrame(f"{byte:02X} is not a BCD byte")
        value = value * 100 + high * 10 + low
    return -value if negative else value


def encode_bcd(value: int, nbytes: int, *, signed: bool = False) -> bytes:
    """Encode an integer as little-endian packed BCD of exactly ``nbytes``."""
    if value < 0 and not signed:
        raise ValueError(f"{value} is negative but the field is unsigned")
    magnitude = abs(value)
    limit = 8 * 10 ** (2 * nbytes - 1) if signed else 10 ** (2 * nbytes)
    if magnitude >= limit:
        raise ValueError(f"{value} does not fit in {nbytes} BCD bytes")
    digits = f"{magnitude:0{2 * nbytes}d}"
    out = bytearray(int(digits[i : i + 2], 16) for i in range(0, len(digits), 2))
    out.reverse()
    if signed and value < 0:
        out[-1] |= 0x80
    return bytes(out)


def decode_scaled(data: bytes, decimals: int, *, signed: bool = False) -> float:
    return decode_bcd(data, signed=signed) / 10**decimals


def encode_scaled(value: float, nbytes: int, decimals: int, *, signed: bool = False) -> bytes:
    return encode_bcd(round(value * 10**decimals), nbytes, signed=signed)


def address_to_wire(address: str, nbytes: int) -> bytes:
    """Meter address as printed on the nameplate (most significant first) to wire order."""
    text = address.strip().upper()
    if len(text) != 2 * nbytes or not set(text) <= _HEX:
        raise ValueError(f"address must be {2 * nbytes} hex/BCD digits, got {address!r}")
    return bytes.fromhex(text)[::-1]


def address_from_wire(data: bytes) -> str:
    return data[::-1].hex().upper()
