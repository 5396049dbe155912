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
