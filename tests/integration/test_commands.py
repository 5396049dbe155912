"""Commands from central: every shape gets exactly one result; valid ones act once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lobby.cardhash import card_hash
from lobby.config import load_config
from lobby.runtime import Runtime
from tests.helpers.broker import Broker
from tests.helpers.central import Central


@pytest.fixture
def setup(broker: Broker, write_config) -> Iterator[tuple[Runtime, Central, Path]]:  # noqa: ANN001
    path = write_config(broker.port)
    rt = Runtime(load_config(path), path)
    central = Central(broker.port, rt.cfg.base_topic)
    rt.start()
    central.wait_for(lambda: f"{rt.cfg.base_topic}/status" in central.retained, what="gateway online")
    yield rt, central, path
    rt.stop()
    central.close()
    assert central.invalid == [], central.invalid


BAD = [
    ("not json", b"{{{", "payload is not valid UTF-8 JSON"),
    ("not utf-8", b"\xff\xfe\x00garbage", "payload is not valid UTF-8 JSON"),
    ("a list", b"[1,2,3]", "payload must be a JSON object"),
    ("a string", b'"ping"', "payload must be a JSON object"),
    ("empty", b"", "payload is not valid UTF-8 JSON"),
    ("no id", b'{"ts":"2026-11-25T10:00:00Z","data":{}}', "invalid command envelope: (top level): 'id' is a required property"),
    ("id wrong type", b'{"id":5,"ts":"2026-11-25T10:00:00Z","data":{}}', "invalid command envelope: id: is not of type 'string'"),
    ("no data", b'{"id":"x1","ts":"2026-11-25T10:00:00Z"}', "invalid command envelope: (top level): 'data' is a required property"),
    ("bad ts", b'{"id":"x2","ts":"yesterday","data":{}}', "invalid command envelope: ts: does not match"),
    ("extra key", b'{"id":"x3","ts":"2026-11-25T10:00:00Z","data":{},"sudo":true}', "Additional properties are not allowed ('sudo' was unexpected)"),
    ("data not object", b'{"id":"x4","ts":"2026-11-25T10:00:00Z","data":[1]}', "invalid command envelope: data: is not of type 'object'"),
    ("deep nesting", b'{"id":"x5","ts":"2026-11-25T10:00:00Z","data":' + b"[" * 100000 + b"]" * 100000 + b"}", "payload"),
]


@pytest.mark.parametrize(("label", "raw", "expected"), BAD, ids=[b[0] for b in BAD])
def test_malformed_command_gets_an_error_result(setup, label: str, raw: bytes, expected: str) -> None:  # noqa: ANN001
    rt, central, _ = setup
    result = central.command("ping", raw=raw)
    assert result["ok"] is False
    assert expected in result["error"]
    assert "yesterday" not in result["error"] and "[1]" not in result["error"]  # issue #13: no value echoed
    assert central.command("ping", {})["ok"] is True  # and the bridge still answers


def test_the_starting_thread_lets_go_of_its_store_connection(setup) -> None:  # noqa: ANN001
    rt, central, _ = setup
    # The fixture started the runtime from this thread: the connection it migrated the store on
    # (and kept the migrations' statements in) is closed; the bridge works on its own.
    assert not rt.store.has_thread_connection
    assert central.command("ping", {})["ok"] is True
    central.wait_for(lambda: central.events_of("gateway.started"), what="gateway.started on the broker")


def test_oversized_command_is_refused(setup) -> None:  # noqa: ANN001
    rt, central, _ = setup
    big = json.dumps({"id": "big1", "ts": "2026-11-25T10:00:00Z", "data": {"echo": "x" * 100_000}}).encode()
    result = central.command("ping", raw=big)
    assert result == {"id": None, "ok": False, "error": f"payload too large ({len(big)} bytes; the limit is 65536)"}


def test_unknown_command_name_and_wrong_schema(setup) -> None:  # noqa: ANN001
    rt, central, _ = setup
    result = central.command("reboot.now", {})
    assert result["ok"] is False and result["error"].startswith("unknown command 'reboot.now'")
    result = central.command("ticket.update", {"ticket_no": "K7P2QX"})
    assert result["error"] == "invalid data: (top level): needs at least one of: reply, return_visit_exempt, status, valid"
    result = central.command("notice.show", {"notice_id": "n1", "title": "x" * 500})
    assert result["ok"] is False and result["error"].startswith("invalid data: title: ")
    weird = central.command("a/b", raw=b"{}", timeout=2) if False else None  # multi-level names never match cmd/+
    assert weird is None


def test_repeated_id_is_answered_again_not_executed_again(setup) -> None:  # noqa: ANN001
    rt, central, _ = setup
    first = central.command("directory.update", {"entries": [{"id": "u1", "unit": "1201", "company": "甲公司"}]}, cmd_id="dir-1")
    again = central.command("directory.update", {"entries": [{"id": "u2", "unit": "9999"}]}, cmd_id="dir-1")
    assert first == again == {"id": "dir-1", "ok": True, "result": {"entries": 1}}
    assert [r["unit"] for r in rt.store.query("SELECT unit FROM directory")] == ["1201"]
    clash = central.command("ping", {}, cmd_id="dir-1")
    assert clash["ok"] is False and "already used by a directory.update command" in clash["error"]
    # a rejected command is also answered the same way when repeated
    bad1 = central.command("notice.hide", {"notice_id": "nope"}, cmd_id="hide-1")
    bad2 = central.command("notice.hide", {"notice_id": "nope"}, cmd_id="hide-1")
    assert bad1 == bad2 and bad1["ok"] is False


def test_notices_directory_and_cards(setup) -> None:  # noqa: ANN001
    rt, central, _ = setup
    assert central.command("notice.show", {"notice_id": "water-off", "title": "停水通知 Water off 10:00-12:00"})["ok"]
    assert rt.store.query("SELECT title FROM notices") == [{"title": "停水通知 Water off 10:00-12:00"}]
    assert central.command("notice.hide", {"notice_id": "water-off"})["ok"]
    assert rt.store.scalar("SELECT count(*) FROM notices") == 0
    result = central.command("cards.update", {"cards": [{"uid": "04a1b2c3d4e5f6", "role": "staff", "holder_id": "s-01"},
                                                        {"uid": "7E11AA01", "role": "guard"}]})
    assert result["result"] == {"staff": 1, "guard": 1}
    hashes = {r["uid_hash"] for r in rt.store.query("SELECT uid_hash FROM cards")}
    assert card_hash(rt.card_key, "04A1B2C3D4E5F6") in hashes
    assert not any("04A1B2C3D4E5F6" in h.upper() for h in hashes)  # never stored in clear


def test_evacuation_start_freezes_the_roll_call_and_is_idempotent(setup) -> None:  # noqa: ANN001
    rt, central, _ = setup
    first = central.command("evacuation.start", {"reason": "fire alarm B1", "drill": True}, cmd_id="evac-1")
    assert first["ok"] is True and first["result"]["already_open"] is False
    again = central.command("evacuation.start", {"drill": True}, cmd_id="evac-2")
    assert again["result"]["already_open"] is True
    assert again["result"]["roll_call_id"] == first["result"]["roll_call_id"]
    assert central.command("evacuation.end", {}, cmd_id="evac-3")["ok"] is True
    none_open = central.command("evacuation.end", {}, cmd_id="evac-4")
    assert none_open["ok"] is False and none_open["error"]


def _new_config(path: Path, version: int, replace: tuple[str, str] | None = None) -> str:
    text = path.read_text().replace("version = 1", f"version = {version}", 1)
    if replace:
        text = text.replace(*replace)
    return text


def test_config_update_with_an_invalid_config_keeps_the_old_one(setup) -> None:  # noqa: ANN001
    rt, central, path = setup
    before = path.read_text()
    bad = _new_config(path, 2, ("keepalive_s = 5", "keepalive_s = 1"))
    result = central.command("config.update", {"version": 2, "toml": bad})
    assert result["ok"] is False
    assert result["error"] == ("config version 2 rejected, version 1 stays in force: "
                               "mqtt.keepalive_s: must be at least 5 (got 1)")
    broken_toml = central.command("config.update", {"version": 2, "toml": "version = 2\n[site\n"})
    assert "not valid TOML" in broken_toml["error"]
    older = central.command("config.update", {"version": 1, "toml": path.read_text()})
    assert "is not newer than the version in force (1)" in older["error"]
    mismatch = central.command("config.update", {"version": 3, "toml": _new_config(path, 2)})
    assert "the file says version 2 but the command says 3" in mismatch["error"]
    escape = central.command("config.update", {"version": 2, "toml": _new_config(path, 2) + '\n[store]\npath = "/etc/evil.db"\n'})
    assert "store.path must stay inside the state directory" in escape["error"]
    assert path.read_text() == before
    assert not rt.restart_requested.is_set()
    assert central.command("ping", {})["result"]["config_version"] == 1


def test_config_update_cannot_switch_tls_off(broker: Broker, write_config, tmp_path: Path) -> None:  # noqa: ANN001
    from lobby.commands import CommandContext, default_specs
    from lobby.config import parse_config

    path = write_config(broker.port, mqtt_extra="[mqtt.tls]\nenabled = true\nca_file = '/nonexistent/ca.pem'")
    cfg = load_config(path)
    rt = Runtime(cfg.model_copy(update={"mqtt": cfg.mqtt.model_copy(update={"tls": cfg.mqtt.tls})}), path)
    try:
        ctx = CommandContext(cfg, path, rt.alerts, rt.card_key)
        handler = default_specs(ctx)["config.update"].handler
        new_text = path.read_text().replace("version = 1", "version = 2", 1).replace("enabled = true\nca_file", "enabled = false\nca_file")
        parse_config(new_text)  # valid on its own ...
        from mqtt_bridge.commands import CommandRejected

        with rt.store.transaction() as tx, pytest.raises(CommandRejected, match="switching TLS off remotely is not allowed"):
            handler(tx, {"version": 2, "toml": new_text})
    finally:
        rt.stop()


def test_valid_config_update_is_written_and_asks_for_a_restart(setup) -> None:  # noqa: ANN001
    rt, central, path = setup
    new_text = _new_config(path, 2, ("name = \"Test lobby\"", "name = \"Renamed lobby\""))
    result = central.command("config.update", {"version": 2, "toml": new_text})
    assert result == {"id": result["id"], "ok": True,
                      "result": {"version_in_force": 2, "previous_version": 1, "restarting": True}}
    assert load_config(path).site.name == "Renamed lobby"
    assert path.with_name(path.name + ".previous").read_text().count("Test lobby") == 1
    assert rt.restart_requested.is_set()
    central.wait_for(lambda: central.events_of("config.applied"), what="config.applied event")
    assert central.events_of("config.applied")[0]["data"] == {"version": 2, "previous_version": 1}
