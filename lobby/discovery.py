"""Home Assistant device discovery for the gateway (one retained document).

Published to `homeassistant/device/<gateway_id>/config` after every connect and
whenever Home Assistant announces itself on `homeassistant/status`. Sensors read
the contract's own topics: health and meter values from the retained latest-state
topics (`<base>/state/health/gateway`, `<base>/state/meter/<meter_id>`, see
lobby/ha_state.py: bulk telemetry itself travels in batches, which a value template
cannot pick from), the patrol sensor from its event envelopes, alerts from the
retained alert topics, availability from `<base>/status`.
"""

from __future__ import annotations

from typing import Any

from lobby.config import Config
from lobby.ha_state import HEALTH_SUBJECT, meter_subject
from drivers.meters.points import POINTS
from lobby.meters.points import DEFAULT_POINTS as _DEFAULT_POINTS
from lobby.meters.points import meter_point_names
from mqtt_bridge.version import VERSION

# What each meter point means to Home Assistant: (device_class, state_class, unit). The canonical
# point names and units are defined once, in drivers/meters/points.py; these tables follow them.
METER_POINTS: dict[str, tuple[str | None, str, str]] = {
    name: (point.device_class, point.state_class, point.unit) for name, point in POINTS.items()
}

# What a meter publishes when its config lists no `points`: by protocol, or by shipped Modbus map.
DEFAULT_POINTS: dict[str, list[str]] = {key: list(names) for key, names in _DEFAULT_POINTS.items()}

HEALTH_SENSORS: dict[str, tuple[str, str | None, str | None]] = {
    # key: (template path under data, device_class, unit)
    "uptime": ("uptime_s", "duration", "s"),
    "cpu_temperature": ("cpu_temp_c", "temperature", "°C"),
    "disk_free": ("disk_free_pct", None, "%"),
    "memory_available": ("mem_available_mb", "data_size", "MB"),
    "outbox_critical": ("outbox.critical", None, None),
    "outbox_bulk": ("outbox.bulk", None, None),
    "throttled_flags": ("power.raw", None, None),
    "storage_errors_since_boot": ("storage_errors.since_boot.mmc + value_json.data.storage_errors.since_boot.ext4"
                                  " + value_json.data.storage_errors.since_boot.io", None, None),
    "build_id": ("build_id", None, None),
    "boot_id": ("boot_id", None, None),
}
TEXT_SENSORS = {"throttled_flags", "build_id", "boot_id"}  # no state class: not a measurement
# The Pi's own problems (lobby/gateway/platform.py) and a unit that died, as problem sensors.
PLATFORM_ALERTS = (("power.undervoltage", "Power supply too weak"), ("power.throttled", "Throttled"),
                   ("storage.errors", "SD card errors"), ("storage.read_only", "Storage read-only"))


def _unique(cfg: Config, suffix: str) -> str:
    return f"lobby_{cfg.site.site_id}_{cfg.site.gateway_id}_{suffix}".replace("-", "_")


def _when(type_: str, condition: str, expr: str) -> str:
    return (f"{{% if value_json.type == '{type_}'{condition} %}}{{{{ {expr} }}}}"
            "{% else %}{{ this.state }}{% endif %}")


def meter_points(meter: Any) -> list[str]:
    """The canonical points a configured meter publishes (its `points`, else its defaults)."""
    return [p for p in meter_point_names(meter) if p in METER_POINTS]


def _meter_alerts(meter: Any) -> list[tuple[str, str]]:
    """The alert kinds a configured meter can raise (lobby/meters/analysis.py), with a title."""
    alerts = [("meter.offline", "offline")]
    points = meter_points(meter)
    if any(POINTS[p].cumulative for p in points):
        alerts += [("meter.backwards", "register went backwards"), ("meter.jump", "implausible jump")]
    if getattr(meter, "leak_check", False):
        alerts.append(("meter.leak", "possible leak"))
    if getattr(meter, "comfort_check", False):
        alerts += [(f"comfort.{p}", f"{p} out of comfort range") for p in ("temperature", "humidity", "noise")
                   if p in points]
    return alerts


def discovery_document(cfg: Config) -> dict[str, Any]:
    base = cfg.base_topic
    components: dict[str, dict[str, Any]] = {}
    for key, (path, device_class, unit) in HEALTH_SENSORS.items():
        comp: dict[str, Any] = {
            "p": "sensor", "name": key.replace("_", " ").capitalize(), "uniq_id": _unique(cfg, key),
            "stat_t": f"{base}/state/{HEALTH_SUBJECT}", "val_tpl": _when("health.report", "", f"value_json.data.{path}"),
            "stat_cla": "measurement", "ent_cat": "diagnostic",
        }
        if key in TEXT_SENSORS:
            del comp["stat_cla"]
        if device_class:
            comp["dev_cla"] = device_class
        if unit:
            comp["unit_of_meas"] = unit
        components[key] = comp
    for meter in cfg.meters:
        for point in meter_points(meter):
            device_class, state_class, unit = METER_POINTS[point]
            key = f"{meter.id}_{point}"
            comp = {
                "p": "sensor", "name": f"{meter.id} {point.replace('_', ' ')}", "uniq_id": _unique(cfg, key),
                "stat_t": f"{base}/state/{meter_subject(meter.id)}",
                "val_tpl": _when("meter.reading", f" and value_json.data['values']['{point}'] is defined"
                                 f" and value_json.data['values']['{point}'].quality == 'good'",
                                 f"value_json.data['values']['{point}'].value"),
                "stat_cla": state_class,
            }
            if unit:
                comp["unit_of_meas"] = unit
            if device_class:
                comp["dev_cla"] = device_class
            components[key] = comp
        for alert, title in _meter_alerts(meter):
            name = "offline" if alert == "meter.offline" else alert.replace(".", "_")  # not a point's name
            components[f"{meter.id}_{name}"] = _alert_sensor(cfg, f"{alert}:{meter.id}", f"{meter.id} {title}")
    for button in cfg.buttons:
        components[f"{button.id}_stuck"] = _alert_sensor(cfg, f"button.stuck:{button.id}", f"{button.id} stuck")
    for key, title in (("gateway.disk_low", "Disk nearly full"), ("outbox.bulk_dropped", "Readings dropped"),
                       ("gateway.clock_unsynced", "Clock not synchronised"), *PLATFORM_ALERTS):
        components[key.replace(".", "_")] = _alert_sensor(cfg, key, title)
    for unit in ("lobby-gateway.service", "lobby-kiosk.service"):
        components[f"unit_failed_{unit.split('.')[0].replace('-', '_')}"] = _alert_sensor(
            cfg, f"unit.failed:{unit}", f"{unit.split('.')[0]} failed")
    components["patrol_status"] = {
        "p": "sensor", "name": "Patrol last scan", "uniq_id": _unique(cfg, "patrol_last_scan"),
        "stat_t": f"{base}/events/patrol",
        "val_tpl": _when("patrol.scan", "", "(value_json.data.checkpoint_id or '-') ~ ' ' ~ value_json.data.status"),
    }
    return {
        "dev": {"ids": [_unique(cfg, "gateway")], "name": cfg.site.name, "mf": "Lobby", "mdl": "Lobby gateway",
                "sw": VERSION},
        "o": {"name": "lobby", "sw": VERSION},
        "avty_t": f"{base}/status", "avty_tpl": "{{ value_json.state }}",
        "pl_avail": "online", "pl_not_avail": "offline",
        "qos": 1,
        "cmps": components,
    }


def _alert_sensor(cfg: Config, key: str, title: str) -> dict[str, Any]:
    return {
        "p": "binary_sensor", "name": title, "uniq_id": _unique(cfg, key.replace(".", "_").replace(":", "_")),
        "dev_cla": "problem", "stat_t": f"{cfg.base_topic}/alerts/{key}",
        "val_tpl": "{{ 'ON' if value and value_json.state == 'active' else 'OFF' }}",
        "ent_cat": "diagnostic",
    }
