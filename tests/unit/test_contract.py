"""The MQTT contract: docs/asyncapi.yaml and the JSON Schemas agree with each other and the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from mqtt_bridge import schemas
from lobby.commands import CommandContext, default_specs

ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI = ROOT / "docs" / "asyncapi.yaml"
SCHEMA_DIR = ROOT / "mqtt_bridge" / "schemas"


def _refs(node: object) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.append(value)
            else:
                found += _refs(value)
    elif isinstance(node, list):
        for item in node:
            found += _refs(item)
    return found


def test_every_schema_file_is_a_valid_2020_12_schema() -> None:
    files = sorted(SCHEMA_DIR.rglob("*.json"))
    assert files
    for file in files:
        Draft202012Validator.check_schema(json.loads(file.read_text()))


def test_asyncapi_document_is_well_formed_and_its_refs_resolve() -> None:
    doc = yaml.safe_load(ASYNCAPI.read_text())
    assert doc["asyncapi"].startswith("3.")
    for ref in _refs(doc):
        if ref.startswith("#/"):
            node = doc
            for part in ref[2:].split("/"):
                node = node[part]
        else:
            assert (ASYNCAPI.parent / ref).resolve().exists(), ref


def test_asyncapi_lists_every_event_kind_and_command_the_code_knows() -> None:
    doc = yaml.safe_load(ASYNCAPI.read_text())
    kinds = doc["channels"]["events"]["parameters"]["kind"]["enum"]
    assert sorted(kinds) == sorted(schemas.EVENT_KINDS)
    for kind in kinds:
        assert (SCHEMA_DIR / "events" / f"{kind}.json").exists(), kind
    names = doc["channels"]["command"]["parameters"]["name"]["enum"]
    assert sorted(names) == schemas.command_names()
    # every command schema has a handler, and every handler a schema
    from unittest.mock import MagicMock

    ctx = CommandContext(MagicMock(), None, MagicMock(), b"k" * 32)
    handled = set(default_specs(ctx))
    try:
        from lobby.commands import lobby_specs

        handled |= set(lobby_specs(ctx))
    except ImportError:
        pass
    assert handled == set(schemas.command_names())


def test_topic_table_in_the_architecture_matches_the_document() -> None:
    doc = yaml.safe_load(ASYNCAPI.read_text())
    addresses = {c["address"] for c in doc["channels"].values()}
    for expected in ("lobby/{site_id}/{gateway_id}/status", "lobby/{site_id}/{gateway_id}/events/{kind}",
                     "lobby/{site_id}/{gateway_id}/alerts/{alert_key}", "lobby/{site_id}/{gateway_id}/cmd/{name}",
                     "lobby/{site_id}/{gateway_id}/cmd/{name}/result", "homeassistant/device/{gateway_id}/config"):
        assert expected in addresses
    assert all(re.fullmatch(r"[a-z/{}_]+", a.replace("homeassistant", "")) for a in addresses)


def _reading(seq: int, meter: str = "m1") -> dict:
    return {"id": f"01a2142a-dabb-7120-965b-{seq:012d}", "type": "meter.reading", "seq": seq,
            "ts": "2026-11-25T10:00:00.000Z", "clock_synced": True, "boot_id": "b-1", "mono_ns": 5_000_000_000,
            "historical": False,
            "data": {"meter_id": meter, "kind": "electricity",
                     "values": {"energy_total": {"value": 1.5, "unit": "kWh", "quality": "good"}}}}


def test_the_batch_channel_takes_every_event_kind_and_its_schema_checks_each_item() -> None:
    doc = yaml.safe_load(ASYNCAPI.read_text())
    assert sorted(doc["channels"]["batch"]["parameters"]["kind"]["enum"]) == sorted(schemas.EVENT_KINDS)
    assert doc["channels"]["batch"]["address"] == "lobby/{site_id}/{gateway_id}/batch/{kind}"
    assert doc["channels"]["state"]["address"] == "lobby/{site_id}/{gateway_id}/state/{subject}"
    assert schemas.validate_batch("meter", {"items": [_reading(1), _reading(2, "m2")]}) is None
    assert schemas.validate_batch("meter", {"items": []}) is not None  # never empty
    assert schemas.validate_batch("meter", {"items": [_reading(1)], "count": 1}) is not None  # nothing else
    assert schemas.validate_batch("meter", {"items": [_reading(i + 1) for i in range(1001)]}) is not None
    wrong = {**_reading(3), "type": "health.report"}
    assert schemas.validate_batch("meter", {"items": [_reading(1), wrong]}).startswith("items/1: ")
    broken = _reading(4)
    del broken["seq"]
    assert schemas.validate_batch("meter", {"items": [broken]}) is not None


def test_the_bridge_settings_bound_a_batch_within_the_schema() -> None:
    from mqtt_bridge.settings import BatchConfig

    items = BatchConfig.model_fields["max_items"].metadata
    assert max(m.le for m in items if hasattr(m, "le")) <= json.loads(
        (SCHEMA_DIR / "batch.json").read_text())["properties"]["items"]["maxItems"]


def test_home_assistant_sensors_read_the_retained_state_topics_the_bridge_keeps() -> None:
    from lobby import discovery
    from lobby.config import load_config
    from lobby.ha_state import state_subject
    from mqtt_bridge.store.outbox import EventRecord, Lane

    cfg = load_config(ROOT / "config" / "example.toml")
    doc = discovery.discovery_document(cfg)
    assert cfg.meters
    for meter in cfg.meters:
        for point in discovery.meter_points(meter):
            comp = doc["cmps"][f"{meter.id}_{point}"]
            assert comp["stat_t"] == f"{cfg.base_topic}/state/meter/{meter.id}"
            assert f"value_json.data['values']['{point}'].value" in comp["val_tpl"]
    assert doc["cmps"]["uptime"]["stat_t"] == f"{cfg.base_topic}/state/health/gateway"

    def record(type_: str, data: dict) -> EventRecord:
        return EventRecord(1, "x", type_.split(".")[0], type_, Lane.BULK, "2026-11-25T10:00:00.000Z", "b", 0, True,
                           json.dumps(data))

    assert state_subject(record("meter.reading", {"meter_id": "elec-lobby", "values": {}})) == "meter/elec-lobby"
    assert state_subject(record("health.report", {"uptime_s": 1})) == "health/gateway"
    assert state_subject(record("meter.reading", {"meter_id": "a/#", "values": {}})) is None  # never a topic level
    assert state_subject(record("meter.consumption", {"meter_id": "elec-lobby"})) is None
