"""Build a simulated line from a TOML/JSON description of its meters.

Example::

    serial = "2400 8E1"
    time_scale = 60          # simulated hours pass 60 times faster (demo)

    [[device]]
    id = "elec-1"
    protocol = "dlt645"
    address = "000000000001"
    power_kw = 1.5
    energy_kwh = 1234.5

    [[device]]
    id = "water-1"
    protocol = "cjt188"
    address = "00000000000001"
    flow_m3h = 0.02          # a dripping tap that never stops: the night-leak case

    [[device]]
    id = "sdm-1"
    protocol = "modbus"
    unit = 1
    map = "eastron_sdm120"
    values = { voltage = 230.0, power = 800.0, energy_import = 52.0 }
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from drivers.meters.serial_settings import SerialSettings

from drivers.meters.sim.devices import SimCjt188Meter, SimDlt645Meter, SimMeter, SimModbusDevice

_COMMON = {"id", "protocol", "reply_delay"}
_KEYS = {
    "dlt645": _COMMON | {"address", "energy_kwh", "power_kw", "voltage", "frequency", "energy_export_kwh",
                         "unsupported", "preamble"},
    "cjt188": _COMMON | {"address", "meter_type", "volume_m3", "flow_m3h", "settlement_m3", "valve",
                         "battery_low", "preamble"},
    "modbus": _COMMON | {"unit", "map", "values"},
}


def build_device(entry: dict[str, Any], time_scale: float = 1.0) -> SimMeter:
    where = f"device {entry.get('id', '?')!r}"
    protocol = entry.get("protocol")
    if protocol not in _KEYS:
        raise ValueError(f"{where}: protocol must be one of {', '.join(_KEYS)}, got {protocol!r}")
    unknown = sorted(set(entry) - _KEYS[protocol])
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r} for {protocol}")
    args = {k: v for k, v in entry.items() if k not in ("id", "protocol")}
    try:
        if protocol == "dlt645":
            if "unsupported" in args:
                args["unsupported"] = tuple(args["unsupported"])
            return SimDlt645Meter(entry["id"], args.pop("address"), time_scale=time_scale, **args)
        if protocol == "cjt188":
            return SimCjt188Meter(entry["id"], args.pop("address"), time_scale=time_scale, **args)
        return SimModbusDevice(entry["id"], args.pop("unit"), args.pop("map"), time_scale=time_scale, **args)
    except KeyError as exc:
        raise ValueError(f"{where}: key {exc.args[0]!r} is required") from None
    except TypeError as exc:
        raise ValueError(f"{where}: {exc}") from None


def load_config(path: str | Path) -> tuple[SerialSettings, list[SimMeter]]:
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    settings = SerialSettings.parse(str(data.get("serial", "2400 8E1")))
    time_scale = float(data.get("time_scale", 1.0))
    devices = [build_device(entry, time_scale) for entry in data.get("device", [])]
    if not devices:
        raise ValueError(f"{path}: no [[device]] entries")
    return settings, devices
