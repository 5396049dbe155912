"""Who may set each config key: central (the department's policy) or only a person on site.

An allow-list, one entry per key path (`meters[].interval_s` for a key inside a
list of tables). `tests/security/test_config_scope.py` fails when a key of the
model is missing here, so every new key is classified on purpose.

- CENTRAL: service clocks, places, visitor/ticket/feedback/comfort/alert rules,
  patrol plans, holiday calendars, meter thresholds, the kiosk's timings.
- ONSITE: broker identity, host, port, credentials, every file path, TLS
  material, devices and ports, printers, staff cards and PIN, guessing limits,
  storage budgets, the whole [security] section.
- Privacy floors (FLOORS): set on site; central may tighten them (shorter
  retention, masking on, names off) but never loosen them past the value in force.
  Once tightened by central, only a person on site loosens them again.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel

Scope = Literal["central", "onsite"]


def _keys(prefix: str, names: str) -> set[str]:
    return {f"{prefix}{name}" for name in names.split()}


CENTRAL: frozenset[str] = frozenset(
    {"version"}  # central bumps it with every push (checked to be newer)
    | _keys("site.", "name language")
    | _keys("mqtt.", "historical_after_s")
    | _keys("logging.", "level")
    | _keys("service.", "complaint_reply_h invalid_complaint_reply_h urgent_onsite_min equipment_fault_onsite_min "
                        "ordinary_repair_same_day same_day_cutoff repair_complete_h general_reply_h "
                        "return_visit_working_days complaint_return_visit_pct greet_visitor_within_s holidays "
                        "extra_workdays escalation_interval_min calendar_years")
    | _keys("places.", "buildings floors areas")
    | _keys("visitors.", "pass_valid_until unreturned_pass_alert_at name_max_len company_max_len permit_max_len "
                         "max_party_size invitation_valid_h invitation_early_min watchlist_enabled duplicate_window_s "
                         "roll_call_hours")
    | _keys("visitors.watchlist[].", "id name phone_hmac note")
    | _keys("tickets.", "categories equipment_categories description_max_len contact_name_max_len")
    | _keys("feedback.", "misuse_max_presses misuse_window_s misuse_max_changes exclude_flagged "
                         "satisfaction_target_pct unhappy_reasons")
    | _keys("privacy.", "stats_retention_days purge_at")
    | _keys("comfort.", "winter_min_c winter_max_c summer_min_c summer_max_c winter_from winter_to summer_from "
                        "summer_to humidity_min_pct humidity_max_pct noise_max_db")
    | _keys("kpi.", "facility_uptime_target_pct survey_return_target_pct survey_return_working_days "
                    "survey_handout_pct")
    | _keys("shifts.", "handover_early_min")
    | _keys("shifts.shifts[].", "name start end")
    | _keys("alerts.", "health_interval_s disk_min_free_pct cpu_temp_max_c clock_unsynced_max_min "
                       "clock_unsynced_boot_min outbox_oldest_max_min kiosk_stale_after_s")
    | _keys("kiosk.", "idle_timeout_s idle_warning_s screensaver_after_s dim_from dim_to thank_you_s feedback_place "
                     "brand_color")
    | _keys("meters[].", "interval_s offline_after_failures max_jump_per_h billing_point leak_check leak_from leak_to "
                         "leak_interval_min comfort_check comfort_readings place")
    | _keys("buttons[].", "place meaning ticket_kind category urgent repeat_window_s stuck_after_s ack_steady_s")
    | _keys("patrol.", "grace_min start_window_min early_start_min session_min report_at")
    | _keys("patrol.checkpoints[].", "id name place")
    | _keys("patrol.routes[].", "id name checkpoints ordered max_gap_min windows_min min_gap_min")
    | _keys("patrol.schedules[].", "route kind times every_h window_from window_to count")
)

ONSITE: frozenset[str] = frozenset(
    {"state_dir"}
    | _keys("site.", "site_id gateway_id timezone")
    | _keys("mqtt.", "host port hosts protocol client_id base_topic keepalive_s username password password_file inflight "
                     "reconnect_min_s reconnect_max_s command_max_bytes command_max_age_s command_max_per_s "
                     "command_queue_max broker_kind")
    | _keys("mqtt.batch.", "enabled max_items max_bytes")
    | _keys("time.", "ntp_servers")  # a network address on this site's LAN; install.sh applies it
    | _keys("mqtt.tls.", "enabled ca_file cert_file key_file insecure_skip_verify")
    | _keys("mqtt.discovery.", "enabled prefix")
    | _keys("store.", "path busy_timeout_ms bulk_max_rows bulk_max_mb disk_min_free_mb backup_dir backup_keep "
                      "backup_target backup_usb_dir command_log_max_rows command_log_max_mb")
    | _keys("security.", "allow_remote_config allow_tls_off allow_remote_broker config_probation_s staff_pin_hash "
                         "pin_max_attempts pin_lockout_min")
    | _keys("visitors.", "code_max_failures code_failure_window_min code_delay_max_s max_live_codes")
    | _keys("tickets.", "number_length lookup_max_failures lookup_failure_window_min lookup_delay_max_s")
    | _keys("privacy.", "export_dir visitor_retention_days ticket_contact_retention_days mask_phone_in_events "
                        "name_in_events")
    | _keys("kiosk.", "font_path fullscreen rotation staff_cards logo")  # logo: a file path on the Pi
    | _keys("kiosk.floor_plan.", "image")  # a file path on the Pi
    | _keys("kiosk.floor_plan.points[].", "device x y label")  # where the site's devices are
    | _keys("gpio.", "pin_factory buzzer_pin status_led_pin")
    | _keys("printer.", "kind path host port usb_vendor usb_product baudrate paper_width_px")
    | _keys("readers[].", "id kind connstring device retap_window_s host checkpoint")
    | _keys("buses[].", "id port baudrate parity bytesize stopbits timeout_ms retries frame_gap_ms lost_retry_s "
                        "lost_retry_max_s")
    | _keys("meters[].", "id bus protocol address kind map points timeout_ms retries water_type")
    | _keys("buttons[].", "id pin role face led_pin bounce_ms")
    | _keys("patrol.checkpoints[].", "tag_uid reader")
    | _keys("patrol.guards[].", "id name card_uid")
)

# On-site privacy floors central may only tighten: "max" (a smaller number is tighter),
# True (switching it on is tighter) or False (switching it off is tighter).
FLOORS: dict[str, Literal["max", True, False]] = {
    "privacy.visitor_retention_days": "max",
    "privacy.ticket_contact_retention_days": "max",
    "privacy.mask_phone_in_events": True,
    "privacy.name_in_events": False,
}

# On-site keys the site may open to central with a [security] switch.
# Never credentials or file paths: a site moving brokers opens host and port only, and every
# push, granted or not, is applied on probation (lobby/config/probation.py).
GRANTS: dict[str, str] = {
    "mqtt.tls.enabled": "allow_tls_off",
    "mqtt.tls.insecure_skip_verify": "allow_tls_off",
    "mqtt.host": "allow_remote_broker",
    "mqtt.port": "allow_remote_broker",
}


def classify(path: str) -> Scope | None:
    """The scope of a key path (list indices written as `[]`), or None if unclassified."""
    generic = _generic(path)
    if generic in ONSITE:
        return "onsite"
    if generic in CENTRAL:
        return "central"
    return None


def _generic(path: str) -> str:
    out, depth = [], 0
    for ch in path:
        if ch == "[":
            depth += 1
            out.append("[]")
        elif ch == "]":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


# ------------------------------------------------------------------ the model's keys


def model_keys(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every leaf key path of a config model, lists of tables written `name[].key`."""
    for name, field in model.model_fields.items():
        yield from _leaf(field.annotation, f"{prefix}{name}")


def _leaf(ann: Any, path: str) -> Iterator[str]:
    section = _section_of(ann)
    if section is not None:
        yield from model_keys(section, path + ".")
        return
    if typing.get_origin(ann) is list:
        (item,) = typing.get_args(ann)
        inner = _section_of(item)
        if inner is not None:
            yield from model_keys(inner, path + "[].")
            return
    yield path


def _section_of(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(models) == 1 and isinstance(models[0], type) and issubclass(models[0], BaseModel):
            return models[0]
    return None


# ------------------------------------------------------------------ comparing two configs


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf values of a dumped config by concrete key path (`meters[2].address`)."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for key, inner in value.items():
            out.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for index, inner in enumerate(value):
            out.update(flatten(inner, f"{prefix}[{index}]"))
        out[f"{prefix}#count"] = len(value)
    else:
        out[prefix] = value
    return out


def _is_tighter(kind: Literal["max", True, False], old: Any, new: Any) -> bool:
    if kind == "max":
        return isinstance(new, int) and isinstance(old, int) and new <= old
    return new == kind


def onsite_changes(current: Any, new: Any) -> list[str]:
    """Key paths an update changes that only a person on site may change (sorted, no values)."""
    old_flat = flatten(current.model_dump(mode="python"))
    new_flat = flatten(new.model_dump(mode="python"))
    grants = current.security
    changed: set[str] = set()
    for path in old_flat.keys() | new_flat.keys():
        old, value = old_flat.get(path, _MISSING), new_flat.get(path, _MISSING)
        if old == value:
            continue
        if [] in (old, value) and f"{path}#count" in old_flat.keys() | new_flat.keys():
            continue  # an empty list of tables on one side: its #count entry decides
        if path.endswith("#count"):
            # a table added or removed from a list: refused if its tables hold on-site keys
            base = path[: -len("#count")]
            if any(k.startswith(_generic(base) + "[].") for k in ONSITE):
                changed.add(base)
            continue
        generic = _generic(path)
        if generic in FLOORS and _is_tighter(FLOORS[generic], old, value):
            continue
        if generic in GRANTS and _granted(grants, GRANTS[generic]):
            continue
        if classify(path) != "central":  # on-site, or unknown to this table: never from central
            changed.add(path)
    return sorted(changed)


def _granted(security: Any, switch: str) -> bool:
    """Whether the on-site [security] switch named in GRANTS is on."""
    switches = {"allow_tls_off": security.allow_tls_off, "allow_remote_broker": security.allow_remote_broker}
    return bool(switches.get(switch, False))


_MISSING = object()
