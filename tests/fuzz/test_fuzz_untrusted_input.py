"""Property-based fuzzing (hypothesis) of the places where untrusted input enters.

- the command intake: random bytes and mutated valid commands for every command name
  (and unknown ones) get exactly one result, never an exception or an "internal
  error", and the store stays consistent;
- the config loader: random and mutated TOML gives a Config or a ConfigError, nothing else;
- every kiosk text field (name, company, free text, permit/code, phone, pass and ticket
  numbers, invitation codes): a FieldError or a normalised value, and normalising
  again changes nothing.

The frame decoders (DL/T 645, CJ/T 188, Modbus RTU, the PN532 parser) are fuzzed in the
suite by tests/drivers/meters/test_meters_fuzz.py and tests/drivers/nfc/test_pn532_frames.py;
bench/fuzz_bench.py runs all of these for a million executions each.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from lobby.services.codes import read_code
from lobby.services.messages import ValidationFailed
from lobby.services.phone import normalise_phone
from lobby.services.text import clean_code, clean_company, clean_free_text, clean_name
from mqtt_bridge import schemas
from lobby.config import ConfigError, Config, parse_config

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.function_scoped_fixture])
EXAMPLE_TOML = (ROOT / "config" / "example.toml").read_text(encoding="utf-8")
NAMES = schemas.command_names() + ["reboot", "", "a/b", "ping\x00", "x" * 300]

VALID_COMMANDS: list[tuple[str, dict[str, Any]]] = [
    ("ping", {"echo": "hi"}), ("notice.show", {"notice_id": "n1", "title": "停水"}),
    ("notice.hide", {"notice_id": "n1"}), ("alert.ack", {"key": "meter.offline:m1"}),
    ("directory.update", {"replace": False, "entries": [{"id": "u1", "unit": "1201"}]}),
    ("cards.update", {"replace": False, "cards": [{"uid": "04A1B2C3", "role": "guard"}]}),
    ("ticket.update", {"ticket_no": "K7P2QX", "status": "assigned"}),
    ("visitor.host_ack", {"visit_id": "v1", "eta_min": 3}),
    ("visitor.invite", {"invite_id": "i1", "code": "12345678", "visitor_name": "张三", "visitor_phone": "13800138000",
                        "host_id": "u1", "purpose": "meeting", "valid_from": "2026-11-26T09:00:00Z"}),
    ("evacuation.start", {"drill": True}), ("evacuation.end", {}),
    ("config.update", {"version": 2, "toml": "version = 2\n"}),
]


# ------------------------------------------------------------------ the command intake


@pytest.fixture(scope="module")
def intake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from lobby.commands import lobby_specs
    from mqtt_bridge.alerts import AlertEngine
    from lobby.cardhash import load_key
    from lobby.commands import CommandContext, default_specs
    from mqtt_bridge.commands import CommandIntake
    from mqtt_bridge.store import Store
    from tests.helpers.site_config import site_toml

    tmp = tmp_path_factory.mktemp("intake")
    cfg = parse_config(site_toml(state_dir=tmp, port=1883, extra="", mqtt_extra="", discovery="false"))
    config_path = tmp / "lobby.toml"
    config_path.write_text(site_toml(state_dir=tmp, port=1883, extra="", mqtt_extra="", discovery="false"))
    store = Store(tmp / "lobby.db")
    alerts = AlertEngine(store)
    ctx = CommandContext(cfg, config_path, alerts, load_key(tmp))
    specs = default_specs(ctx)
    specs.update(lobby_specs(ctx))
    yield CommandIntake(store, specs, cfg.mqtt.command_max_bytes)
    assert store.integrity_check() == "ok"
    store.close()


def _check_result(intake: Any, name: str, raw: bytes) -> None:
    result = intake.handle(name, raw)
    assert isinstance(result.ok, bool)
    assert result.ok or (result.error and "internal error" not in result.error), (name, raw[:200], result.error)
    body = json.loads(result.payload())
    assert set(body) <= {"id", "ok", "error", "result"} and body["ok"] is result.ok
    assert schemas.first_error("command_result.json", body) is None


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=4), max_leaves=12)


@st.composite
def mutated_command(draw: st.DrawFn) -> tuple[str, bytes]:
    name, data = draw(st.sampled_from(VALID_COMMANDS))
    doc: dict[str, Any] = {"id": draw(st.from_regex(r"[A-Za-z0-9_.:-]{1,64}", fullmatch=True) | st.text(max_size=70)),
                           "ts": "2026-11-25T10:00:00Z", "data": dict(data)}
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["data", "top"]))
        target = doc["data"] if where == "data" and isinstance(doc.get("data"), dict) else doc
        key = draw(st.sampled_from(sorted(target) + ["zz", "id", "data"]))
        op = draw(st.sampled_from(["set", "delete"]))
        if op == "delete":
            target.pop(key, None)
        else:
            target[key] = draw(json_values)
    raw = bytearray(json.dumps(doc, ensure_ascii=draw(st.booleans())).encode())
    for _ in range(draw(st.integers(0, 3))):  # byte-level damage on top
        if raw:
            pos = draw(st.integers(0, len(raw) - 1))
            raw[pos] = draw(st.integers(0, 255))
    return draw(st.sampled_from([name, name, draw(st.sampled_from(NAMES))])), bytes(raw)


@FUZZ
@given(name=st.sampled_from(NAMES), raw=st.binary(max_size=300))
def test_random_bytes_on_any_command_topic(intake: Any, name: str, raw: bytes) -> None:
    _check_result(intake, name, raw)


@FUZZ
@given(case=mutated_command())
@example(("config.update", json.dumps({"id": "nest-1", "ts": "2026-11-25T10:00:00Z",
                                       "data": {"version": 2, "toml": "version = 2\n"}}).encode()))
def test_mutated_commands_get_exactly_one_answer(intake: Any, case: tuple[str, bytes]) -> None:
    _check_result(intake, *case)


def test_a_deeply_nested_config_update_is_a_plain_rejection(intake: Any) -> None:
    toml = "version = 2\nx = " + "[" * 2000 + "]" * 2000 + "\n"
    _check_result(intake, "config.update", json.dumps({"id": "nest-2", "ts": "2026-11-25T10:00:00Z",
                                                       "data": {"version": 2, "toml": toml}}).encode())


# ------------------------------------------------------------------ the config loader


def _load(text: str) -> None:
    try:
        cfg = parse_config(text, "fuzz.toml")
    except ConfigError as exc:
        assert exc.problems and all(isinstance(p, str) and isinstance(m, str) for p, m in exc.problems)
        return
    assert isinstance(cfg, Config)


@st.composite
def mutated_toml(draw: st.DrawFn) -> str:
    lines = EXAMPLE_TOML.splitlines()
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["drop", "dup", "swap", "edit", "insert"]))
        i = draw(st.integers(0, len(lines) - 1))
        if op == "drop" and len(lines) > 1:
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "edit" and lines[i]:
            k = draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:k] + draw(st.text(max_size=4)) + lines[i][k + 1:]
        elif op == "insert":
            lines.insert(i, draw(st.text(max_size=40)))
    return "\n".join(lines)


@FUZZ
@given(text=st.text(max_size=400))
def test_random_text_is_a_config_or_a_config_error(text: str) -> None:
    _load(text)


@FUZZ
@given(text=mutated_toml())
def test_mutated_example_config_is_a_config_or_a_config_error(text: str) -> None:
    _load(text)


@pytest.mark.parametrize("nested", ["x = " + "[" * 1000 + "]" * 1000, "x = " + "{a = " * 1000 + "1" + "}" * 1000])
def test_deep_nesting_is_a_config_error(nested: str) -> None:
    _load("version = 1\n" + nested + "\n")


# ------------------------------------------------------------------ kiosk text fields

any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=120) | st.text(max_size=600)
anything = any_text | st.none() | st.integers() | st.binary(max_size=20) | st.lists(st.text(max_size=3), max_size=2)
_BAD_OUT = {"Cc", "Cf", "Cs", "Co", "Cn"}


def _cleaned(fn: Any, value: object, **kwargs: Any) -> str | None:
    try:
        out = fn(value, **kwargs)
    except ValidationFailed as exc:
        assert exc.errors and all(e.field and e.code and e.zh and e.en for e in exc.errors)
        return None
    if out is not None:
        assert isinstance(out, str) and out == out.strip() and out
        assert fn(out, **kwargs) == out  # normalising twice changes nothing
    return out


@FUZZ
@given(value=anything, max_len=st.integers(1, 200))
def test_names(value: object, max_len: int) -> None:
    out = _cleaned(clean_name, value, max_len=max_len, required=False)
    if out is not None:
        assert len(out) <= max_len and "  " not in out
        assert not [c for c in out if unicodedata.category(c) in _BAD_OUT and c not in "\u200c\u200d"]


@FUZZ
@given(value=anything, max_len=st.integers(1, 200))
def test_companies(value: object, max_len: int) -> None:
    out = _cleaned(clean_company, value, max_len=max_len)
    if out is not None:
        assert len(out) <= max_len and "\n" not in out


@FUZZ
@given(value=anything, max_len=st.integers(1, 600))
def test_free_text(value: object, max_len: int) -> None:
    out = _cleaned(clean_free_text, value, max_len=max_len, required=False)
    if out is not None:
        assert len(out) <= max_len and "\r" not in out and "\n\n\n" not in out


@FUZZ
@given(value=anything, max_len=st.integers(1, 60))
def test_permit_numbers(value: object, max_len: int) -> None:
    out = _cleaned(clean_code, value, max_len=max_len)
    if out is not None:
        assert len(out) <= max_len


@FUZZ
@given(value=anything | st.from_regex(r"\+?(00)?(86)?[ -]?1[3-9]\d[ -]?\d{4}[ -]?\d{4}", fullmatch=True))
def test_phones(value: object) -> None:
    out = _cleaned(normalise_phone, value, required=False)
    if out is not None:
        assert re.fullmatch(r"1[3-9]\d{9}|\+[1-9]\d{6,14}", out), out


@FUZZ
@given(value=anything)
def test_pass_numbers_and_codes(value: object) -> None:
    out = read_code(value)
    assert out is None or re.fullmatch(r"[0-9A-Z_]+", out)
    if out is not None:
        assert read_code(out) == out


@pytest.fixture(scope="module")
def lobby(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from lobby.services import LobbyServices
    from mqtt_bridge.store import Store
    from tests.helpers.site_config import site_toml

    tmp = tmp_path_factory.mktemp("lobby")
    cfg = parse_config(site_toml(state_dir=tmp, port=1883, extra="", mqtt_extra="", discovery="false"))
    store = Store(tmp / "lobby.db")
    cfg = cfg.model_copy(update={"tickets": cfg.tickets.model_copy(update={"lookup_max_failures": 10_000}),
                                 "visitors": cfg.visitors.model_copy(update={"code_max_failures": 10_000})})
    yield LobbyServices(store, cfg, card_key=b"k" * 32)
    store.close()


@FUZZ
@given(value=anything)
def test_ticket_numbers_invitation_codes_and_phone_digits_typed_at_the_kiosk(lobby: Any, value: object) -> None:
    for outcome in (lobby.tickets.lookup(value), lobby.invitations.find(value),
                    lobby.visitors.find_by_phone_last4(value), lobby.visitors.check_out_by_pass(value)):
        assert outcome.ok is False and outcome.message.zh and outcome.message.en


@FUZZ
@given(name=anything, phone=anything, company=anything, permit=anything, purpose=anything, party=anything)
def test_the_whole_check_in_form(lobby: Any, name: object, phone: object, company: object, permit: object,
                                 purpose: object, party: object) -> None:
    from lobby.services import CheckInForm

    assume(not (isinstance(name, str) and isinstance(phone, str)))  # keep the store small: invalid forms only
    outcome = lobby.visitors.validate(CheckInForm(name=name, phone=phone, host_id="nobody", purpose=purpose,
                                                  party_size=party, company=company, permit_no=permit,
                                                  consent=True))
    assert outcome.ok is False and outcome.errors
    assert {e.field for e in outcome.errors} <= {"name", "phone", "company", "purpose", "party_size", "permit_no",
                                                 "host_id", "consent"}


# ------------------------------------------------------------------ found by bench/fuzz_bench.py command


def _send(intake: Any, name: str, data: dict[str, Any], cmd_id: str) -> Any:
    return intake.handle(name, json.dumps({"id": cmd_id, "ts": "2026-11-25T10:00:00Z", "data": data},
                                          ensure_ascii=False).encode())
@pytest.mark.parametrize("field", ["valid_from", "valid_until", "next_reply_by"])
def test_an_impossible_time_in_a_command_is_a_plain_rejection(tmp_path: Path, field: str) -> None:
    from lobby.services import LobbyServices, TicketForm
    from lobby.commands import lobby_specs
    from mqtt_bridge.alerts import AlertEngine
    from lobby.commands import CommandContext, default_specs
    from mqtt_bridge.commands import CommandIntake
    from mqtt_bridge.store import Store
    from tests.helpers.site_config import site_toml

    cfg = parse_config(site_toml(state_dir=tmp_path, port=1883, extra="", mqtt_extra="", discovery="false"))
    store = Store(tmp_path / "lobby.db")
    try:
        ctx = CommandContext(cfg, None, AlertEngine(store), b"k" * 32)
        specs = default_specs(ctx)
        specs.update(lobby_specs(ctx))
        intake = CommandIntake(store, specs, cfg.mqtt.command_max_bytes)
        assert _send(intake, "directory.update", {"entries": [{"id": "u1", "unit": "1201"}]}, "d1").ok
        if field == "next_reply_by":
            ticket = LobbyServices(store, cfg, card_key=b"k" * 32).tickets.create(TicketForm(
                kind="complaint", category="noise", description="noise"))
            data = {"ticket_no": ticket.value.ticket_no, "reply": "ok", "next_reply_by": "2027-02-30T10:00:00Z"}
            name = "ticket.update"
        else:
            data = {"invite_id": "i1", "code": "12345678", "visitor_name": "张三", "visitor_phone": "13800138000",
                    "host_id": "u1", "purpose": "meeting", "valid_from": "2026-11-26T09:00:00Z",
                    field: "2026-11-26T09:00:80Z"}
            name = "visitor.invite"
        result = _send(intake, name, data, "bad-time")
        assert result.ok is False and "internal error" not in (result.error or ""), result.error
    finally:
        store.close()
