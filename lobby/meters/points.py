"""Which canonical points a configured meter reads, and which of them is billed.

The point names, their units and their translation to each protocol are the
meters' own vocabulary and live with the meter drivers, in
:mod:`drivers.meters.points`; this module holds the lobby's choices on top of
them: what a meter reads when its config names no points, the register a bill
is made from, and what kind of meter (electricity, water, heat, environment) it is.

This module imports no driver code at import time, so the config checks and Home
Assistant discovery can use it cheaply.
"""

from __future__ import annotations

from typing import Any

from drivers.meters.points import POINTS, Binding, PointError, available, map_name

# The register a bill is made from, in order of preference, when a meter does not name one.
BILLING_PREFERENCE = ("energy_import", "energy_total", "volume_total", "heat_total")

COMFORT_POINTS = ("temperature", "humidity", "noise")

# What a meter reads when its config gives no `points` (protocol, or shipped Modbus map).
# A custom map file reads every register that has a canonical meaning.
DEFAULT_POINTS: dict[str, list[str]] = {
    "dlt645": ["energy_import", "voltage_a", "current_a", "power_total"],
    "cjt188": ["volume_total"],
    "eastron_sdm120": ["energy_import", "voltage_a", "current_a", "power_total", "power_factor", "frequency"],
    "eastron_sdm630": ["energy_import", "voltage_a", "voltage_b", "voltage_c", "current_a", "current_b",
                       "current_c", "power_total", "frequency"],
    "xy_md02": ["temperature", "humidity"],
}


def default_points(protocol: str, map_source: str | None) -> list[str]:
    if protocol != "modbus":
        return list(DEFAULT_POINTS[protocol])
    assert map_source is not None
    name = map_name(map_source)
    if name in DEFAULT_POINTS:
        return list(DEFAULT_POINTS[name])
    return list(available(protocol, map_source))


def bindings(meter: Any) -> list[Binding]:
    """The points a configured meter reads (config `points`, else its defaults); raises PointError."""
    offer = available(meter.protocol, meter.map)
    wanted = list(meter.points) or default_points(meter.protocol, meter.map)
    unknown = [p for p in wanted if p not in POINTS]
    if unknown:
        raise PointError(f"unknown point {unknown[0]!r} (canonical points: {', '.join(POINTS)})")
    missing = [p for p in wanted if p not in offer]
    if missing:
        source = f"map {map_name(meter.map)}" if meter.protocol == "modbus" else meter.protocol
        raise PointError(f"point {missing[0]!r} is not offered by {source} (it offers: {', '.join(offer)})")
    if not wanted:
        raise PointError("the meter offers no canonical point to read")
    return [offer[p] for p in dict.fromkeys(wanted)]


def billing_point(meter: Any, names: list[str]) -> str | None:
    """The cumulative point consumption is computed from (None: an environment sensor)."""
    if getattr(meter, "billing_point", None):
        return str(meter.billing_point)
    return next((p for p in BILLING_PREFERENCE if p in names), None)


def meter_kind(meter: Any, names: list[str] | None = None) -> str:
    """electricity, water, heat or environment: the config's `kind`, else guessed from protocol and points."""
    if getattr(meter, "kind", None):
        return str(meter.kind)
    if meter.protocol == "dlt645":
        return "electricity"
    if meter.protocol == "cjt188":
        return "water"
    names = names if names is not None else [b.name for b in bindings(meter)]
    if any(p.startswith(("volume", "flow")) for p in names):
        return "water"
    if "heat_total" in names:
        return "heat"
    if any(p.startswith(("energy", "power", "voltage", "current")) for p in names):
        return "electricity"
    return "environment"


def meter_point_names(meter: Any) -> list[str]:
    """Canonical points of a configured meter; [] if the config cannot be read (never raises)."""
    try:
        return [b.name for b in bindings(meter)]
    except Exception:  # noqa: BLE001 - discovery must not fail on a meter the config checks reject
        return []
