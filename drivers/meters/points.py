"""Canonical meter point names and units, and how each protocol names them: the one place they are defined.

Every protocol names its quantities its own way (DL/T 645 ``power`` in kW, an
Eastron ``power`` register in W, a three-phase map's ``voltage_l1``, CJ/T 188
``volume``). Readings, events, alerts, consumption and Home Assistant discovery
only ever see the canonical names below, in their canonical units:

============== ====== ========================================================
name           unit   meaning
============== ====== ========================================================
energy_import  kWh    forward (import) active energy, total - the billing register
energy_export  kWh    reverse (export) active energy, total
energy_total   kWh    combined active energy (DL/T 645 "combined", Eastron "total")
power_total    kW     instantaneous active power, all phases
power_a/b/c    kW     active power per phase
voltage_a/b/c  V      phase voltage (a single-phase meter reports voltage_a)
current_a/b/c  A      phase current (a single-phase meter reports current_a)
power_factor   -      total power factor
frequency      Hz     grid frequency
volume_total   m³     water volume, cumulative - the billing register of a water meter
volume_settlement m³  the volume frozen on the meter's settlement day (CJ/T 188)
flow_rate      m³/h   instantaneous water flow
heat_total     kWh    heat energy, cumulative (heat meters with a Modbus map)
temperature    °C     indoor temperature (comfort sensor)
humidity       %      relative humidity (comfort sensor)
noise          dB     sound level (comfort sensor)
============== ====== ========================================================

Translation to each protocol lives here too: DL/T 645 data items by name, the
CJ/T 188 measurement, and Modbus register names (canonical names, or the common
aliases in ``MODBUS_ALIASES``: ``voltage``, ``voltage_l1``, ``power``, ``flow``...)
with unit conversion (W→kW, Wh→kWh, L→m³, L/h→m³/h). A custom register map
should name its registers canonically; registers it names otherwise are not read.

These tables describe meters, not the lobby, so they sit with the meter drivers:
the meter simulation (:mod:`drivers.meters.sim.simulation`) speaks them, and the
lobby's meter service (``lobby.meters.points``: which points a configured meter
reads, which one is billed) builds on them.

This module imports no driver code at import time (the register maps are loaded
on first use), so the config checks and Home Assistant discovery can use it cheaply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class Point:
    name: str
    unit: str
    description: str
    device_class: str | None  # Home Assistant
    state_class: str  # Home Assistant: measurement, total or total_increasing
    cumulative: bool = False  # an ever-increasing register: backwards/jump checks, consumption


_POINTS = (
    Point("energy_import", "kWh", "forward (import) active energy, total", "energy", "total_increasing", True),
    Point("energy_export", "kWh", "reverse (export) active energy, total", "energy", "total_increasing", True),
    Point("energy_total", "kWh", "combined active energy, total", "energy", "total_increasing", True),
    Point("power_total", "kW", "active power, all phases", "power", "measurement"),
    Point("power_a", "kW", "active power, phase A", "power", "measurement"),
    Point("power_b", "kW", "active power, phase B", "power", "measurement"),
    Point("power_c", "kW", "active power, phase C", "power", "measurement"),
    Point("voltage_a", "V", "phase A voltage", "voltage", "measurement"),
    Point("voltage_b", "V", "phase B voltage", "voltage", "measurement"),
    Point("voltage_c", "V", "phase C voltage", "voltage", "measurement"),
    Point("current_a", "A", "phase A current", "current", "measurement"),
    Point("current_b", "A", "phase B current", "current", "measurement"),
    Point("current_c", "A", "phase C current", "current", "measurement"),
    Point("power_factor", "", "power factor, total", "power_factor", "measurement"),
    Point("frequency", "Hz", "grid frequency", "frequency", "measurement"),
    Point("volume_total", "m³", "water volume, total", "water", "total_increasing", True),
    Point("volume_settlement", "m³", "volume frozen on the settlement day", "water", "total"),
    Point("flow_rate", "m³/h", "water flow", "volume_flow_rate", "measurement"),
    Point("heat_total", "kWh", "heat energy, total", "energy", "total_increasing", True),
    Point("temperature", "°C", "temperature", "temperature", "measurement"),
    Point("humidity", "%", "relative humidity", "humidity", "measurement"),
    Point("noise", "dB", "sound level", "sound_pressure", "measurement"),
)
POINTS: dict[str, Point] = {p.name: p for p in _POINTS}

# --- protocols ---------------------------------------------------------------------------------

# canonical name -> DL/T 645 data item name (drivers.meters.dlt645.ITEMS_BY_NAME); units agree.
DLT645_ITEMS: dict[str, str] = {
    "energy_import": "energy_import",
    "energy_export": "energy_export",
    "energy_total": "energy_combined",
    "voltage_a": "voltage_a", "voltage_b": "voltage_b", "voltage_c": "voltage_c",
    "current_a": "current_a", "current_b": "current_b", "current_c": "current_c",
    "power_total": "power", "power_a": "power_a", "power_b": "power_b", "power_c": "power_c",
    "power_factor": "power_factor",
    "frequency": "frequency",
}
# canonical name -> CJ/T 188 measurement value (one 901F read returns both).
CJT188_VALUES: dict[str, str] = {"volume_total": "volume", "volume_settlement": "volume_settlement"}

# Modbus register names that mean a canonical point (besides the canonical names themselves).
MODBUS_ALIASES: dict[str, str] = {
    "voltage": "voltage_a", "voltage_l1": "voltage_a", "voltage_l2": "voltage_b", "voltage_l3": "voltage_c",
    "current": "current_a", "current_l1": "current_a", "current_l2": "current_b", "current_l3": "current_c",
    "power": "power_total", "power_l1": "power_a", "power_l2": "power_b", "power_l3": "power_c",
    "energy_combined": "energy_total", "volume": "volume_total", "flow": "flow_rate",
    "temp": "temperature", "rh": "humidity", "sound_level": "noise",
}

# (unit the device reports, canonical unit) -> factor
UNIT_FACTORS: dict[tuple[str, str], float] = {
    ("W", "kW"): 0.001, ("MW", "kW"): 1000.0, ("Wh", "kWh"): 0.001, ("MWh", "kWh"): 1000.0,
    ("L", "m³"): 0.001, ("m3", "m³"): 1.0, ("L/h", "m³/h"): 0.001, ("m3/h", "m³/h"): 1.0,
    ("C", "°C"): 1.0, ("℃", "°C"): 1.0, ("%RH", "%"): 1.0, ("dBA", "dB"): 1.0, ("dB(A)", "dB"): 1.0,
}

# Shipped register maps by the short names the configuration also accepts.
MAP_ALIASES: dict[str, str] = {"sdm120": "eastron_sdm120", "sdm630": "eastron_sdm630", "th_sensor": "xy_md02"}

# Registers that roll over (BCD counters): modulus in canonical units.
ROLLOVER: dict[tuple[str, str], float] = {
    ("dlt645", "energy_import"): 1_000_000.0,  # XXXXXX.XX kWh
    ("dlt645", "energy_export"): 1_000_000.0,
    ("cjt188", "volume_total"): 1_000_000.0,  # XXXXXX.XX m³
}

WATER_TYPES = {"cold": 0x10, "hot": 0x11, "drinking": 0x12, "reclaimed": 0x13}


class PointError(ValueError):
    """A meter's points cannot be read as configured; the message says why."""


@dataclass(frozen=True, slots=True)
class Binding:
    """One canonical point of one meter: where the driver finds it and how to convert it."""

    name: str  # canonical
    native: str  # the driver's value name (DL/T 645 item, CJ/T 188 value, Modbus register)
    factor: float = 1.0
    rollover: float | None = None
    significant: int = 10  # digits worth keeping (7 for float32 registers)

    @property
    def point(self) -> Point:
        return POINTS[self.name]

    @property
    def unit(self) -> str:
        return POINTS[self.name].unit

    @property
    def cumulative(self) -> bool:
        return POINTS[self.name].cumulative

    def convert(self, raw: float | None) -> float | None:
        if raw is None or not math.isfinite(raw):
            return None
        value = raw * self.factor
        return float(f"{value:.{self.significant}g}") if value else 0.0


def map_name(name: str) -> str:
    """A shipped map's real name for a short alias (``sdm630`` -> ``eastron_sdm630``)."""
    return MAP_ALIASES.get(name, name)


@lru_cache(maxsize=64)
def _load_map(source: str) -> Any:
    from drivers.meters.regmap import load_register_map

    return load_register_map(map_name(source))


def load_map(source: str) -> Any:
    """The RegisterMap for a config `map` value (alias, shipped name or file); raises PointError."""
    from drivers.meters.regmap import RegisterMapError

    try:
        return _load_map(source)
    except (RegisterMapError, OSError) as exc:
        raise PointError(str(exc)) from None


def canonical_of_register(register_name: str) -> str | None:
    if register_name in POINTS:
        return register_name
    return MODBUS_ALIASES.get(register_name)


def unit_factor(native_unit: str, canonical_unit: str, where: str) -> float:
    if native_unit == canonical_unit or not native_unit:
        return 1.0
    factor = UNIT_FACTORS.get((native_unit, canonical_unit))
    if factor is None:
        raise PointError(f"{where}: unit {native_unit!r} cannot be converted to {canonical_unit!r}")
    return factor


def available(protocol: str, map_source: str | None) -> dict[str, Binding]:
    """Every canonical point a meter of this protocol (and map) can deliver."""
    if protocol == "dlt645":
        return {name: Binding(name, item, rollover=ROLLOVER.get(("dlt645", name)))
                for name, item in DLT645_ITEMS.items()}
    if protocol == "cjt188":
        return {name: Binding(name, value, rollover=ROLLOVER.get(("cjt188", name)))
                for name, value in CJT188_VALUES.items()}
    if protocol != "modbus":
        raise PointError(f"unknown protocol {protocol!r}")
    if not map_source:
        raise PointError("a modbus meter needs a register map")
    regmap = load_map(map_source)
    found: dict[str, Binding] = {}
    for spec in regmap.registers:
        name = canonical_of_register(spec.name)
        if name is None or name in found:
            continue
        factor = unit_factor(spec.unit, POINTS[name].unit, f"register {spec.name!r} of map {regmap.name}")
        found[name] = Binding(name, spec.name, factor, significant=7 if spec.type == "f32" else 10)
    return found
