"""Configuration: the example is valid, every broken file gets a precise message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lobby.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.toml"

MINIMAL = """
version = 3
[site]
site_id = "tower-a"
gateway_id = "gw-1"
[mqtt]
host = "127.0.0.1"
"""

# A realistic body to break: devices that refer to each other.
DEVICES = """
[[buses]]
id = "rs485-1"
port = "/dev/ttyUSB0"
[[meters]]
id = "m1"
bus = "rs485-1"
protocol = "dlt645"
address = "000000001234"
[[buttons]]
id = "b1"
pin = 17
place = "3F"
meaning = "cleaning"
category = "cleaning"
[patrol]
checkpoints = [ { id = "cp1", name = "Lobby", place = "Lobby", tag_uid = "04A1B2C3D4E501" } ]
routes = [ { id = "r1", name = "Night", checkpoints = ["cp1"] } ]
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "t.toml")
    return info.value.lines()


def test_example_config_is_valid_and_carries_domain_defaults() -> None:
    cfg = load_config(EXAMPLE)
    assert cfg.version >= 1
    assert cfg.base_topic == "lobby/tower-a/gw-lobby-1"
    svc = cfg.service
    assert (svc.complaint_reply_h, svc.urgent_onsite_min, svc.repair_complete_h, svc.return_visit_working_days) == (2, 15, 24, 2)
    assert cfg.privacy.visitor_retention_days == 30
    assert (cfg.comfort.winter_min_c, cfg.comfort.winter_max_c, cfg.comfort.summer_min_c) == (18, 24, 22)
    assert (cfg.comfort.humidity_min_pct, cfg.comfort.humidity_max_pct, cfg.comfort.noise_max_db) == (40, 60, 50)
    assert cfg.feedback.satisfaction_target_pct == 85 and cfg.kpi.facility_uptime_target_pct == 98
    assert cfg.kiosk.idle_timeout_s == 60 and cfg.security.pin_max_attempts == 5


def test_minimal_config_fills_every_default() -> None:
    cfg = parse_config(MINIMAL + DEVICES)
    assert cfg.mqtt.port == 1883 and cfg.mqtt.protocol == "3.1.1"
    assert cfg.client_id == "lobby-gw-1"
    assert cfg.meters[0].interval_s == 60 and cfg.buses[0].parity == "E" and cfg.buses[0].baudrate == 2400
    assert cfg.patrol.routes[0].max_gap_min == 15
    assert cfg.tickets.categories[0] == "engineering"


def test_relative_state_dir_is_next_to_the_file(tmp_path: Path) -> None:
    file = tmp_path / "lobby.toml"
    file.write_text(MINIMAL.replace("version = 3", 'version = 3\nstate_dir = "var"'))
    assert load_config(file).state_dir == str(tmp_path / "var")


BROKEN = [
    # (what is wrong, how to break it, expected problem line)
    ("bad toml", MINIMAL + "[mqtt\n", "t.toml: not valid TOML"),
    ("missing version", MINIMAL.replace("version = 3", ""), "t.toml: version: required key is missing"),
    ("version zero", MINIMAL.replace("version = 3", "version = 0"), "version: must be at least 1 (got 0)"),
    ("version as text", MINIMAL.replace("version = 3", 'version = "3"'), "version: must be an integer"),
    ("missing broker", MINIMAL.replace('[mqtt]\nhost = "127.0.0.1"', ""), "t.toml: mqtt: required key is missing"),
    ("missing broker host", MINIMAL.replace('host = "127.0.0.1"', ""), "mqtt.host: required key is missing"),
    ("unknown top-level key", MINIMAL + 'colour = "blue"\n', "colour: unknown key"),
    ("unknown nested key", MINIMAL + "hots = 1\n", "mqtt.hots: unknown key"),
    ("port out of range", MINIMAL + "port = 70000\n", "mqtt.port: must be at most 65535 (got 70000)"),
    ("port negative", MINIMAL + "port = -1\n", "mqtt.port: must be at least 1 (got -1)"),
    ("port as float", MINIMAL + "port = 1883.5\n", "mqtt.port: must be an integer (got 1883.5)"),
    ("bad protocol", MINIMAL + 'protocol = "4"\n', "mqtt.protocol: must be one of '3.1.1' or '5'"),
    ("bool as string", MINIMAL + '[mqtt.tls]\nenabled = "yes"\n', "mqtt.tls.enabled: must be true or false"),
    ("cert without key", MINIMAL + '[mqtt.tls]\ncert_file = "c.pem"\n', "mqtt.tls: cert_file and key_file must be given together"),
    ("password twice", MINIMAL + 'password = "x"\npassword_file = "/p"\n', "mqtt: give either password or password_file, not both"),
    ("bad site id", MINIMAL.replace('"tower-a"', '"Tower A"'), "site.site_id: must be 1-64 characters"),
    ("bad timezone", MINIMAL.replace('gateway_id = "gw-1"', 'gateway_id = "gw-1"\ntimezone = "Mars/Base"'), "site.timezone: unknown time zone"),
    ("negative interval", MINIMAL + DEVICES.replace('address = "000000001234"', 'address = "000000001234"\ninterval_s = -5'), "meters[0].interval_s: must be at least 1 (got -5)"),
    ("negative retention", MINIMAL + "[privacy]\nvisitor_retention_days = -30\n", "privacy.visitor_retention_days: must be at least 1 (got -30)"),
    ("zero SLA", MINIMAL + "[service]\ncomplaint_reply_h = 0\n", "service.complaint_reply_h: must be greater than 0 (got 0)"),
    ("bad clock time", MINIMAL + '[kiosk]\ndim_from = "25:00"\n', 'kiosk.dim_from: must be a time of day written as "HH:MM"'),
    ("bad month-day", MINIMAL + '[comfort]\nwinter_from = "13-01"\n', 'comfort.winter_from: must be a calendar day written as "MM-DD"'),
    ("comfort range reversed", MINIMAL + "[comfort]\nwinter_min_c = 25\n", "comfort: winter_min_c must not exceed winter_max_c"),
    ("bad card uid", MINIMAL + '[kiosk]\nstaff_cards = ["xyz"]\n', "kiosk.staff_cards[0]: must be a 4, 7 or 10 byte card UID"),
    ("duplicate meter id", MINIMAL + DEVICES + '[[meters]]\nid = "m1"\nbus = "rs485-1"\nprotocol = "cjt188"\naddress = "1"\n',
     "meters[1].id: duplicate id 'm1' (first used at meters[0])"),
    ("device id shared across kinds", MINIMAL + DEVICES.replace('id = "b1"', 'id = "m1"'), "buttons[0].id: duplicate device id 'm1' (also used in meters)"),
    ("unknown bus", MINIMAL + DEVICES.replace('bus = "rs485-1"', 'bus = "rs485-9"'), "meters[0].bus: unknown bus 'rs485-9'"),
    ("bad meter protocol", MINIMAL + DEVICES.replace('"dlt645"', '"mbus"'), "meters[0].protocol: must be one of 'modbus', 'dlt645' or 'cjt188'"),
    ("bad dlt645 address", MINIMAL + DEVICES.replace('"000000001234"', '"12ab"'), "meters[0]: address of a dlt645 meter must be up to 12 decimal digits"),
    # Digits of another script are digits to Python's \d, isdigit() and int(); not to a meter, a clock or
    # a calendar, and not to the staff reading the configuration back: refused like any other letter.
    ("dlt645 address in Arabic-Indic digits", MINIMAL + DEVICES.replace('"000000001234"', '"\u0660\u0660\u0661\u0662\u0663\u0664"'),
     "meters[0]: address of a dlt645 meter must be up to 12 decimal digits"),
    ("modbus unit id in Devanagari digits", MINIMAL + DEVICES.replace('protocol = "dlt645"\naddress = "000000001234"', 'protocol = "modbus"\naddress = "\u0969"\nmap = "xy_md02"'),
     "meters[0]: address of a modbus meter must be a unit id from 1 to 247"),
    ("clock time in full-width digits", MINIMAL + '[kiosk]\ndim_from = "1\uff12:00"\n', 'kiosk.dim_from: must be a time of day written as "HH:MM"'),
    ("month-day in Arabic-Indic digits", MINIMAL + '[comfort]\nwinter_from = "\u0661\u0661-15"\n', 'comfort.winter_from: must be a calendar day written as "MM-DD"'),
    ("modbus without map", MINIMAL + DEVICES.replace('protocol = "dlt645"\naddress = "000000001234"', 'protocol = "modbus"\naddress = "3"'), "meters[0]: a modbus meter needs map"),
    ("pin out of range", MINIMAL + DEVICES.replace("pin = 17", "pin = 40"), "buttons[0].pin: must be at most 27 (got 40)"),
    ("pin used twice", MINIMAL + DEVICES + "[gpio]\nbuzzer_pin = 17\n", "buttons[0].pin: GPIO 17 is already used by gpio.buzzer_pin"),
    ("unknown ticket category", MINIMAL + DEVICES.replace('category = "cleaning"', 'category = "magic"'), "buttons[0].category: unknown category 'magic'"),
    ("route names unknown checkpoint", MINIMAL + DEVICES.replace('checkpoints = ["cp1"]', 'checkpoints = ["cp1", "cp9"]'), "patrol.routes[0].checkpoints[1]: unknown checkpoint 'cp9'"),
    ("empty route", MINIMAL + DEVICES.replace('checkpoints = ["cp1"]', "checkpoints = []"), "patrol.routes[0].checkpoints: must have at least 1 item"),
    ("schedule without times", MINIMAL + DEVICES + '[[patrol.schedules]]\nroute = "r1"\nkind = "fixed"\n', "patrol.schedules[0]: a fixed schedule needs times"),
    ("libnfc reader without connstring", MINIMAL + '[[readers]]\nid = "r1"\n', "readers[0]: a libnfc reader needs connstring"),
    ("section of wrong type", 'store = "big"\n' + MINIMAL, "store: must be a table"),
    ("list where table", MINIMAL + "[[site]]\nsite_id = 'x'\n", "t.toml: not valid TOML"),
    ("bad baud rate", MINIMAL + DEVICES.replace('port = "/dev/ttyUSB0"', 'port = "/dev/ttyUSB0"\nbaudrate = 2500'), "buses[0].baudrate: must be one of"),
]


@pytest.mark.parametrize(("name", "text", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_config_gets_a_precise_message(name: str, text: str, expected: str) -> None:
    lines = problems_of(text)
    assert any(expected in line for line in lines), lines
    assert all(line.startswith("t.toml: ") for line in lines)
    # issue #13: text values are never echoed (they may be names, phones or secrets)
    assert not any(word in line for line in lines for word in ("'3'", "'4'", "'yes'", "Mars/Base", "'big'"))
    assert not any("Traceback" in line or "pydantic" in line for line in lines)


def test_many_problems_are_all_listed_at_once() -> None:
    lines = problems_of(MINIMAL + "port = 0\nkeepalive_s = 1\nfoo = 1\n[kiosk]\nidle_timeout_s = -1\n")
    assert len(lines) == 4, lines


def test_a_secret_is_never_echoed() -> None:
    lines = problems_of(MINIMAL + "password = 12345\n")
    assert lines == ["t.toml: mqtt.password: must be text in quotes"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lobby.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_cli_check_valid_file_exits_zero() -> None:
    result = _cli("config", "check", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


def test_cli_check_broken_file_exits_two_with_one_line_per_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL + "port = 0\ncolour = 1\n")
    result = _cli("config", "check", str(bad))
    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        f"{bad}: mqtt.port: must be at least 1 (got 0)",
        f"{bad}: mqtt.colour: unknown key (check the spelling; see config/example.toml)",
    ]
    assert "Traceback" not in result.stderr


def test_cli_check_missing_file(tmp_path: Path) -> None:
    result = _cli("config", "check", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert result.stdout.strip() == f"{tmp_path / 'nope.toml'}: file not found"


def test_a_meter_is_named_by_its_id_and_line_with_a_likely_key(tmp_path: Path) -> None:
    """Issue #18: `config check` said `meters[2].intervall_s`, with no line, id or suggestion."""
    text = MINIMAL + DEVICES + '[[meters]]\nid = "m2"\nbus = "rs485-1"\nprotocol = "cjt188"\naddress = "1"\n' \
        '[[meters]]\nid = "water-main"\nbus = "rs485-1"\nprotocol = "cjt188"\naddress = "2"\nintervall_s = 60\n'
    line = text.splitlines().index("intervall_s = 60") + 1
    lines = problems_of(text)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f't.toml: line {line}, meter "water-main": meters[2].intervall_s: unknown key; '
                               "did you mean interval_s?"), lines


def test_an_unknown_bus_offers_the_bus_that_exists() -> None:
    lines = problems_of(MINIMAL + DEVICES.replace('bus = "rs485-1"', 'bus = "rs485-l"'))
    line = (MINIMAL + DEVICES).splitlines().index('bus = "rs485-1"') + 1
    assert f"t.toml: line {line}, meter \"m1\": meters[0].bus: unknown bus 'rs485-l'; did you mean 'rs485-1'?" \
        in lines[0], lines


def test_the_example_named_is_the_installed_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #18: on a Pi there is no config/example.toml; a release carries its own example."""
    from lobby.config import locate

    share = tmp_path / "share/lobby"
    share.mkdir(parents=True)
    (share / "lobby.example.toml").write_text("version = 1\n")
    monkeypatch.setattr(locate.sys, "prefix", str(tmp_path))
    assert locate.example_config() == str(share / "lobby.example.toml")
    lines = problems_of(MINIMAL + "colour = 1\n")
    assert f"(check the spelling; see {share / 'lobby.example.toml'})" in lines[0]


def test_key_lines_follow_tables_arrays_and_skip_multiline_strings() -> None:
    from lobby.config.locate import key_lines

    text = 'version = 1\nnote = """\n[[meters]]\nid = "x"\n"""\n[mqtt]\nhost = "h"\n[mqtt.tls]\nenabled = true\n' \
           '[[meters]]\nid = "a"\n[[meters]]\nid = "b"\n'
    lines = key_lines(text)
    assert lines["mqtt.host"] == 7 and lines["mqtt.tls.enabled"] == 9
    assert lines["meters[0]"] == 10 and lines["meters[1].id"] == 13 and "meters[2]" not in lines


def test_kiosk_rotation_is_a_quarter_turn() -> None:
    assert parse_config(MINIMAL, "t.toml").kiosk.rotation == 0
    assert parse_config(MINIMAL + "[kiosk]\nrotation = 270\n", "t.toml").kiosk.rotation == 270
    lines = problems_of(MINIMAL + "[kiosk]\nrotation = 45\n")
    assert any("kiosk.rotation" in line for line in lines), lines
