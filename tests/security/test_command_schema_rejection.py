"""Every command topic rejects every payload that fails its schema, and nothing changes.

For each schema in mqtt_bridge/schemas/commands/, invalid payloads are generated from
the schema itself: each required key left out, each property given a value of the
wrong type, an unknown key added (at the top and inside list items), each string made
one character longer than its maxLength, each enum given a value outside it, each
patterned string given a trailing newline or another script's digits (JSON Schema's
patterns are ECMA-262's, where Python's `$` and `\\d` took both). They go
to `<base>/cmd/<name>` over a real broker, into the gateway's real intake (default and
lobby handlers). Each must get exactly one result with ok=false naming the problem,
and the store's contents (everything but the record of rejected commands and the
bridge's own status) must be unchanged afterwards.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mqtt_bridge import schemas
from lobby.config import load_config
from lobby.runtime import Runtime
from mqtt_bridge.store import Store
from tests.helpers.broker import Broker
from tests.helpers.central import Central

# One valid payload per command: the base that each invalid case mutates.
VALID: dict[str, dict[str, Any]] = {
    "alert.ack": {"key": "meter.offline:elec-1", "by": "operator-7"},
    "cards.update": {"replace": False, "cards": [{"uid": "04A1B2C3D4E5F6", "role": "staff", "holder_id": "s-01",
                                                  "active": True}]},
    "config.update": {"version": 2, "toml": "version = 2\n"},
    "directory.update": {"replace": False, "entries": [{"id": "u1", "unit": "1201", "company": "甲", "person": "王",
                                                        "floor": "12F", "active": True}]},
    "evacuation.end": {},
    "evacuation.start": {"reason": "drill", "drill": True},
    "notice.hide": {"notice_id": "n1"},
    "notice.show": {"notice_id": "n1", "title": "停水 Water off", "body": "10:00-12:00",
                    "until": "2026-11-26T12:00:00Z"},
    "ping": {"echo": "hi"},
    "ticket.update": {"ticket_no": "K7P2QX", "status": "assigned", "reply": "ok", "assignee": "eng-1",
                      "next_reply_by": "2026-11-26T12:00:00Z"},
    "service.restart": {"service": "kiosk", "reason": "blank screen reported"},
    "system.reboot": {"reason": "undervoltage cleared, firmware update"},
    "survey.result": {"survey_id": "2026-h2", "handed_out_on": "2026-11-02", "units_occupied": 200, "handed_out": 200,
                      "returned": 130, "satisfied": 112},
    "visitor.host_ack": {"visit_id": "v1", "message": "coming", "eta_min": 5},
    "visitor.invite": {"invite_id": "inv-1", "code": "12345678", "qr_token": "abcdefghijklmnop",
                       "visitor_name": "张三", "visitor_phone": "13800138000", "visitor_company": "甲",
                       "host_id": "u1", "purpose": "meeting", "party_size": 1, "permit_no": "P-1",
                       "valid_from": "2026-11-26T09:00:00Z", "valid_until": "2026-11-26T18:00:00Z"},
}
WRONG = {"string": 12345, "integer": "12", "boolean": "yes", "array": {"a": 1}, "object": [1, 2], "number": "1.5"}
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
IGNORED_TABLES = {"commands", "meta", "sqlite_sequence"}


def _schema(name: str) -> dict[str, Any]:
    registry_files = schemas._registry()[1]
    return registry_files[f"commands/{name}.json"]


def _mutations(schema: dict[str, Any], base: dict[str, Any], where: str = "") -> Iterator[tuple[str, Any]]:
    props: dict[str, Any] = schema.get("properties", {})
    for key in schema.get("required", []):
        broken = {k: v for k, v in base.items() if k != key}
        yield f"{where}missing {key}", broken
    for key, spec in props.items():
        kind = spec.get("type")
        if kind in WRONG:
            yield f"{where}{key} wrong type", {**base, key: WRONG[kind]}
        if "enum" in spec:
            yield f"{where}{key} not in enum", {**base, key: "not-a-choice"}
        if kind == "string" and "maxLength" in spec:
            yield f"{where}{key} too long", {**base, key: "A" * (spec["maxLength"] + 1)}
        if kind == "string" and "pattern" in spec and isinstance(base.get(key), str):
            # JSON Schema patterns are ECMA-262: `$` is the end of the text, `\d` is 0-9 (Python's re differs)
            yield f"{where}{key} trailing newline", {**base, key: base[key] + "\n"}
            if any(c.isdigit() for c in base[key]):
                yield f"{where}{key} other script's digits", {**base, key: base[key].translate(ARABIC_INDIC)}
        if kind == "integer" and "maximum" in spec:
            yield f"{where}{key} too big", {**base, key: spec["maximum"] + 1}
        if kind == "integer" and "minimum" in spec:
            yield f"{where}{key} too small", {**base, key: spec["minimum"] - 1}
        if kind == "array" and isinstance(spec.get("items"), dict) and base.get(key):
            item_schema = spec["items"]
            for label, item in _mutations(item_schema, base[key][0], f"{where}{key}[0]."):
                yield label, {**base, key: [item]}
            if "maxItems" in spec:
                yield f"{where}{key} too many items", {**base, key: [base[key][0]] * (spec["maxItems"] + 1)}
    if schema.get("additionalProperties") is False:
        yield f"{where}unknown key", {**base, "zz_unexpected": True}


def cases() -> list[tuple[str, str, Any]]:
    out: list[tuple[str, str, Any]] = []
    assert sorted(VALID) == schemas.command_names(), "a new command schema needs a VALID example here"
    for name in schemas.command_names():
        base = VALID[name]
        assert schemas.first_error(f"commands/{name}.json", base) is None, f"VALID[{name!r}] is not valid"
        for label, payload in _mutations(_schema(name), copy.deepcopy(base)):
            if schemas.first_error(f"commands/{name}.json", payload) is not None:
                out.append((name, label, payload))
        out.append((name, "data not an object", ["list"]))
        out.append((name, "data null", None))
    return out


CASES = cases()


def _digest(store: Store) -> dict[str, str]:
    tables = [r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
    out = {}
    for table in tables:
        if table in IGNORED_TABLES:
            continue
        rows = store.query(f"SELECT * FROM {table} ORDER BY 1")  # noqa: S608 - our own table names
        out[table] = hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()
    return out


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, Central]]:
    from tests.helpers.site_config import site_toml

    tmp = tmp_path_factory.mktemp("schemas")
    broker = Broker(tmp / "broker").start()
    path = tmp / "lobby.toml"
    path.write_text(site_toml(state_dir=tmp / "state", port=broker.port, extra="", mqtt_extra="",
                                       discovery="false"))
    rt = Runtime(load_config(path), path)
    central = Central(broker.port, rt.cfg.base_topic)
    rt.start()
    central.wait_for(lambda: f"{rt.cfg.base_topic}/status" in central.retained, what="gateway online")
    # gateway.started must be acknowledged first: its PUBACK changes outbox and counters, which the test digests
    central.wait_for(lambda: rt.store.scalar("SELECT count(*) FROM outbox") == 0, what="outbox drained")
    yield rt, central
    rt.stop()
    central.close()
    broker.stop()


def test_there_are_invalid_cases_for_every_command_and_kind_of_mistake() -> None:
    names = {name for name, _, _ in CASES}
    assert names == set(schemas.command_names())
    labels = " | ".join(label for _, label, _ in CASES)
    for kind in ("missing", "wrong type", "unknown key", "too long", "not in enum", "[0].", "trailing newline",
                 "other script's digits"):
        assert kind in labels, kind
    assert len(CASES) > 100


def test_every_invalid_payload_is_rejected_on_its_topic_and_changes_nothing(gateway) -> None:  # noqa: ANN001
    rt, central = gateway
    before = _digest(rt.store)
    accepted = []
    recorded = 0
    for n, (name, label, data) in enumerate(CASES):
        cmd_id = f"bad-{n}"
        payload = json.dumps({"id": cmd_id, "ts": "2026-11-25T10:00:00.000Z", "data": data}).encode()
        oversized = len(payload) > rt.cfg.mqtt.command_max_bytes  # refused before it is read: answered id=null
        recorded += not oversized
        result = central.command(name, raw=payload)
        if not oversized and result.get("id") != cmd_id:  # a late answer to an earlier case: read on
            result = _next_result(central, cmd_id)
        if result["ok"] or not (result["error"].startswith("invalid data:")
                                or result["error"].startswith("invalid command envelope:")
                                or result["error"].startswith("payload too large")):
            accepted.append((name, label, result))
    assert accepted == []
    assert _digest(rt.store) == before
    rejected = rt.store.scalar("SELECT count(*) FROM commands WHERE id LIKE 'bad-%' AND ok = 0")
    assert rejected == recorded
    assert central.invalid == []


def _next_result(central: Central, cmd_id: str, timeout: float = 10.0) -> dict[str, Any]:
    import queue
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, body = central.results.get(timeout=0.1)
        except queue.Empty:
            continue
        if body.get("id") == cmd_id:
            return body
    raise TimeoutError(f"no result for {cmd_id}")


def test_the_same_cases_through_the_intake_leave_the_store_consistent(tmp_path: Path) -> None:
    """Without a broker: the intake answers each case once and never raises."""
    from mqtt_bridge.alerts import AlertEngine
    from lobby.cardhash import load_key
    from lobby.commands import CommandContext, default_specs
    from mqtt_bridge.commands import CommandIntake
    from lobby.config import parse_config
    from lobby.commands import lobby_specs
    from tests.helpers.site_config import site_toml

    cfg = parse_config(site_toml(state_dir=tmp_path, port=1883, extra="", mqtt_extra="", discovery="false"))
    store = Store(tmp_path / "lobby.db")
    alerts = AlertEngine(store)
    ctx = CommandContext(cfg, tmp_path / "lobby.toml", alerts, load_key(tmp_path))
    specs = default_specs(ctx)
    specs.update(lobby_specs(ctx))
    intake = CommandIntake(store, specs, cfg.mqtt.command_max_bytes)
    before = _digest(store)
    for n, (name, label, data) in enumerate(CASES):
        body = json.dumps({"id": f"i-{n}", "ts": "2026-11-25T10:00:00Z", "data": data}).encode()
        result = intake.handle(name, body)
        assert result.ok is False, (name, label)
        assert result.error and "internal error" not in result.error, (name, label, result.error)
    assert _digest(store) == before
    assert store.integrity_check() == "ok"
    store.close()
