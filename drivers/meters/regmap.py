"""Modbus register maps: which registers a device has and how to turn them into values.

A map is a TOML (or JSON) file; the ones shipped for common meters live in
``drivers/meters/maps``. Example::

    name = "eastron_sdm120"
    description = "Eastron SDM120-Modbus single-phase energy meter"
    default_serial = "9600 8N1"

    [read]              # how registers are grouped into requests
    max_registers = 80  # per request
    max_gap = 8         # unused registers worth reading to save a request

    [defaults]          # applied to every register unless it says otherwise
    function = "input"  # "input" (FC 04) or "holding" (FC 03)
    type = "f32"        # u16 s16 u32 s32 f32
    word_order = "big"  # 32-bit values: "big" = high word in the first register
    byte_order = "big"  # within each register
    scale = 1.0

    [[register]]
    name = "voltage"
    address = 0x0000
    unit = "V"

    [[register]]
    name = "energy_import"
    address = 0x0048
    unit = "kWh"
    cumulative = true   # an ever-increasing counter (energy, volume)
"""

from __future__ import annotations

import json
import math
import struct
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

TYPES: dict[str, tuple[int, str]] = {
    "u16": (1, "H"),
    "s16": (1, "h"),
    "u32": (2, "I"),
    "s32": (2, "i"),
    "f32": (2, "f"),
}
FUNCTIONS = {"input": 4, "holding": 3}
ORDERS = ("big", "little")
_REGISTER_KEYS = {"name", "address", "function", "type", "word_order", "byte_order", "scale",
                  "unit", "cumulative", "description"}
_DEFAULT_KEYS = {"function", "type", "word_order", "byte_order", "scale"}
_TOP_KEYS = {"name", "description", "default_serial", "read", "defaults", "register"}
MAX_READ = 125  # Modbus limit for FC 03/04


class RegisterMapError(ValueError):
    """A register map file is invalid; the message names the file, register and key."""


@dataclass(frozen=True)
class RegisterSpec:
    name: str
    address: int
    function: str = "input"
    type: str = "u16"
    word_order: str = "big"
    byte_order: str = "big"
    scale: float = 1.0
    unit: str = ""
    cumulative: bool = False
    description: str = ""

    @property
    def count(self) -> int:
        return TYPES[self.type][0]

    @property
    def function_code(self) -> int:
        return FUNCTIONS[self.function]

    @property
    def end(self) -> int:
        return self.address + self.count

    def _to_bytes(self, registers: Sequence[int]) -> bytes:
        regs = list(registers)
        if self.word_order == "little":
            regs.reverse()
        raw = bytearray()
        for reg in regs:
            pair = reg.to_bytes(2, "big")
            raw += pair if self.byte_order == "big" else pair[::-1]
        return bytes(raw)

    def decode(self, registers: Sequence[int]) -> float:
        """Registers (as read, in address order) to the scaled value; NaN passes through."""
        if len(registers) != self.count:
            raise ValueError(f"{self.name} needs {self.count} registers, got {len(registers)}")
        (raw,) = struct.unpack(">" + TYPES[self.type][1], self._to_bytes(registers))
        return raw * self.scale

    def encode(self, value: float) -> list[int]:
        """The inverse of :meth:`decode` (the simulator uses it)."""
        raw: float | int = value / self.scale
        if self.type != "f32":
            raw = int(round(raw))
        data = struct.pack(">" + TYPES[self.type][1], raw)
        if self.byte_order == "little":
            data = b"".join(data[i : i + 2][::-1] for i in range(0, len(data), 2))
        regs = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
        if self.word_order == "little":
            regs.reverse()
        return regs


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One FC 03/04 request covering one or more registers of a map."""

    function_code: int
    address: int
    count: int
    specs: tuple[RegisterSpec, ...]

    def values(self, registers: Sequence[int]) -> dict[str, float]:
        out = {}
        for spec in self.specs:
            offset = spec.address - self.address
            out[spec.name] = spec.decode(registers[offset : offset + spec.count])
        return out


@dataclass(frozen=True)
class RegisterMap:
    name: str
    registers: tuple[RegisterSpec, ...]
    description: str = ""
    default_serial: str = ""
    max_registers: int = MAX_READ
    max_gap: int = 0

    def __post_init__(self) -> None:
        if not self.registers:
            raise RegisterMapError(f"{self.name}: a register map needs at least one register")

    def spec(self, name: str) -> RegisterSpec:
        for spec in self.registers:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def blocks(self) -> list[ReadBlock]:
        """Group registers into as few requests as the map's limits allow."""
        blocks: list[ReadBlock] = []
        for fc in sorted({s.function_code for s in self.registers}):
            specs = sorted((s for s in self.registers if s.function_code == fc), key=lambda s: s.address)
            group = [specs[0]]
            for spec in specs[1:]:
                start, end = group[0].address, max(s.end for s in group)
                if spec.address - end <= self.max_gap and spec.end - start <= self.max_registers:
                    group.append(spec)
                else:
                    blocks.append(_block(fc, group))
                    group = [spec]
            blocks.append(_block(fc, group))
        return blocks


def _block(fc: int, group: list[RegisterSpec]) -> ReadBlock:
    start = group[0].address
    return ReadBlock(fc, start, max(s.end for s in group) - start, tuple(group))


def _check_keys(found: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(found) - allowed)
    if unknown:
        raise RegisterMapError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _register(entry: Any, defaults: dict[str, Any], where: str) -> RegisterSpec:
    if not isinstance(entry, dict):
        raise RegisterMapError(f"{where}: each [[register]] must be a table")
    _check_keys(entry, _REGISTER_KEYS, where)
    merged = {**defaults, **entry}
    name = merged.get("name")
    if not isinstance(name, str) or not name:
        raise RegisterMapError(f"{where}: key 'name' is required and must be text")
    where = f"{where} ({name!r})"
    address = merged.get("address")
    if not isinstance(address, int) or isinstance(address, bool) or not 0 <= address <= 0xFFFF:
        raise RegisterMapError(f"{where}: key 'address' must be an integer 0..65535")
    checks = (("function", FUNCTIONS), ("type", TYPES), ("word_order", ORDERS), ("byte_order", ORDERS))
    for key, allowed in checks:
        if key in merged and merged[key] not in allowed:
            raise RegisterMapError(f"{where}: key {key!r} is {merged[key]!r}, expected one of {', '.join(allowed)}")
    scale = merged.get("scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale == 0 or not math.isfinite(scale):
        raise RegisterMapError(f"{where}: key 'scale' must be a non-zero number")
    for key in ("unit", "description"):
        if not isinstance(merged.get(key, ""), str):
            raise RegisterMapError(f"{where}: key {key!r} must be text")
    if not isinstance(merged.get("cumulative", False), bool):
        raise RegisterMapError(f"{where}: key 'cumulative' must be true or false")
    spec = RegisterSpec(**{**merged, "scale": float(scale)})
    if spec.end > 0x10000:
        raise RegisterMapError(f"{where}: a {spec.type} at {address:#06x} runs past register 65535")
    return spec


def parse_register_map(data: dict[str, Any], origin: str) -> RegisterMap:
    """Validate a map already loaded from TOML/JSON; ``origin`` names it in errors."""
    _check_keys(data, _TOP_KEYS, origin)
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise RegisterMapError(f"{origin}: [defaults] must be a table")
    _check_keys(defaults, _DEFAULT_KEYS, f"{origin} [defaults]")
    read = data.get("read", {})
    if not isinstance(read, dict):
        raise RegisterMapError(f"{origin}: [read] must be a table")
    _check_keys(read, {"max_registers", "max_gap"}, f"{origin} [read]")
    max_registers = read.get("max_registers", MAX_READ)
    max_gap = read.get("max_gap", 0)
    if not isinstance(max_registers, int) or not 2 <= max_registers <= MAX_READ:
        raise RegisterMapError(f"{origin} [read]: key 'max_registers' must be 2..{MAX_READ}")
    if not isinstance(max_gap, int) or max_gap < 0:
        raise RegisterMapError(f"{origin} [read]: key 'max_gap' must be a non-negative integer")
    entries = data.get("register")
    if not isinstance(entries, list) or not entries:
        raise RegisterMapError(f"{origin}: at least one [[register]] is required")
    specs = [_register(e, defaults, f"{origin} register #{i + 1}") for i, e in enumerate(entries)]
    names: set[str] = set()
    for spec in specs:
        if spec.name in names:
            raise RegisterMapError(f"{origin}: register name {spec.name!r} appears twice")
        names.add(spec.name)
    by_fc = sorted(specs, key=lambda s: (s.function_code, s.address))
    for a, b in zip(by_fc, by_fc[1:]):
        if a.function_code == b.function_code and b.address < a.end:
            raise RegisterMapError(f"{origin}: registers {a.name!r} and {b.name!r} overlap")
    name = data.get("name", Path(origin).stem)
    if not isinstance(name, str) or not name:
        raise RegisterMapError(f"{origin}: key 'name' must be text")
    return RegisterMap(name, tuple(specs), str(data.get("description", "")),
                       str(data.get("default_serial", "")), max_registers, max_gap)


def builtin_map_names() -> list[str]:
    folder = resources.files(__package__).joinpath("maps")
    return sorted(p.name.rsplit(".", 1)[0] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_register_map(source: str | Path) -> RegisterMap:
    """Load a shipped map by name (``"eastron_sdm120"``) or any .toml/.json file by path."""
    path = Path(source)
    if path.suffix in (".toml", ".json") and path.exists():
        text, origin = path.read_text(encoding="utf-8"), str(path)
    else:
        name = str(source)
        if name not in builtin_map_names():
            raise RegisterMapError(
                f"no register map {name!r}: not a file, and shipped maps are {', '.join(builtin_map_names())}"
            )
        text = resources.files(__package__).joinpath("maps").joinpath(f"{name}.toml").read_text(encoding="utf-8")
        origin, path = f"{name}.toml", Path(f"{name}.toml")
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise RegisterMapError(f"{origin}: {exc}") from exc
    return parse_register_map(data, origin)
