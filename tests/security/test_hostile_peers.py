"""Issue #13: the hostile-peer suite.

A hostile central against the real gateway process (`lobby gateway --simulate`)
and a real mosquitto: on-site keys refused by name, no secret leaves for another
broker, a replayed id is answered and not run again, an old command is refused,
huge and odd payloads are refused by name with their id. A hostile visitor:
guessing through the services and the store-backed limiter, across a restart.
(The cloned staff card is tests/ui/test_ui_flows.py::test_ui_cloned_staff_card_without_the_pin_sees_no_names;
the local user is tests/security/test_local_user.py and tests/deploy/test_deploy_install.py.)
The command flood is tests/security/test_command_flood.py (the command lane's per-second cap).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lobby.config import load_config
from lobby.services.text import MAX_MARKS, is_display_safe, safe_display
from mqtt_bridge.store import Store
from tests.helpers.broker import Broker
from tests.helpers.central import Central, now_ts
from tests.helpers.gateway_rig import GatewayProcess, gateway_config

pytestmark = pytest.mark.xdist_group("hostile-gateway")


class Listener:
    """A would-be rogue broker: counts every connection and what arrives on it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.settimeout(1)
            try:
                self.received += conn.recv(65536)
            except OSError:
                pass
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Central, Path, GatewayProcess]]:
    work = tmp_path_factory.mktemp("hostile")
    state = work / "state"
    state.mkdir()
    broker = Broker(work / "broker").start()
    config = work / "lobby.toml"
    config.write_text(gateway_config(state, broker.port, meters=False))
    cfg = load_config(config)
    gw = GatewayProcess(config, work / "gateway.log").start()
    central = Central(broker.port, cfg.base_topic, client_id="central-hostile")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if central.command("ping", {}, timeout=2).get("ok"):
                    break
            except TimeoutError:
                if time.monotonic() > deadline or not gw.alive():
                    raise
        yield central, config, gw
    finally:
        central.close()
        gw.stop()
        broker.stop()
        assert "Traceback" not in (work / "gateway.log").read_text(errors="replace")


def _raw(central: Central, name: str, body: bytes) -> dict[str, Any]:
    return central.command(name, raw=body)


def test_central_cannot_redirect_the_gateway_to_hand_over_a_secret(gateway: Any) -> None:
    central, config, gw = gateway
    before = config.read_bytes()
    rogue = Listener()
    try:
        cfg = load_config(config)
        text = before.decode().replace("version = 1", "version = 2", 1).replace(
            f"port = {cfg.mqtt.port}", f'port = {rogue.port}\nusername = "x"\n'
            f'password_file = "{cfg.state_dir}/card-hash.key"', 1)
        result = central.command("config.update", {"version": 2, "toml": text})
        assert result["ok"] is False
        for key in ("mqtt.port", "mqtt.username", "mqtt.password_file"):
            assert key in result["error"]
        assert str(rogue.port) not in result["error"] and "card-hash.key" not in result["error"]
        time.sleep(2)  # a restart would have reconnected by now
        assert config.read_bytes() == before and gw.alive()
        assert rogue.connections == 0 and rogue.received == b""
        assert central.command("ping", {})["result"]["config_version"] == 1
    finally:
        rogue.close()


def test_a_replayed_id_is_answered_again_not_run_again(gateway: Any) -> None:
    central, _, _ = gateway
    first = central.command("notice.show", {"notice_id": "n-replay", "title": "电梯检修 Lift service"}, cmd_id="rp-1")
    again = central.command("notice.show", {"notice_id": "n-other", "title": "changed"}, cmd_id="rp-1")
    assert first == again and first["ok"]


def test_an_old_command_is_refused_and_says_why(gateway: Any) -> None:
    central, _, _ = gateway
    body = json.dumps({"id": "old-1", "ts": "2001-01-01T00:00:00Z", "data": {}}).encode()
    result = _raw(central, "ping", body)
    assert result["ok"] is False and result["id"] == "old-1"
    assert "older than mqtt.command_max_age_s" in result["error"]


@pytest.mark.parametrize(("label", "data", "words"), [
    ("5000 digits", '{"notice_id": "n1", "title": "x", "until": ' + "9" * 5000 + "}", "more than 40 digits"),
    ("lone surrogate", '{"notice_id": "n1", "title": "\\ud800"}', "title: text holds an unpaired surrogate"),
    ("NaN", '{"notice_id": "n1", "title": NaN}', "NaN is not a JSON number"),
])
def test_odd_payloads_are_refused_by_name_with_their_id(gateway: Any, label: str, data: str, words: str) -> None:
    central, _, _ = gateway
    cmd_id = f"odd-{label.replace(' ', '-')}"
    body = ('{"id": "%s", "ts": "%s", "data": %s}' % (cmd_id, now_ts(), data)).encode()
    result = _raw(central, "notice.show", body)
    assert result["ok"] is False and words in result["error"]
    assert result["id"] == cmd_id
    assert "internal error" not in result["error"]


def test_displayed_text_from_central_is_made_safe(gateway: Any) -> None:
    central, config, _ = gateway
    title = "通知\u202eevil\u0000\u001b[31m\u0007\u200bZ" + "\u0301" * 50
    assert central.command("notice.show", {"notice_id": "n-odd", "title": title})["ok"]
    cfg = load_config(config)
    store = Store(Path(cfg.state_dir) / cfg.store.path)
    try:
        stored = store.scalar("SELECT title FROM notices WHERE notice_id = 'n-odd'")
    finally:
        store.close()
    assert stored.startswith("通知evil") and is_display_safe(stored)
    assert not any(ch in stored for ch in "\u202e\u0000\u001b\u0007\u200b")


# ------------------------------------------------------------------ the sanitiser, any text


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=1, max_value=400), st.booleans())
def test_any_text_through_the_sanitiser_is_safe(text: str, max_len: int, multiline: bool) -> None:
    out = safe_display(text, max_len, multiline)
    assert len(out) <= max_len
    marks = 0
    for ch in out:
        cat = unicodedata.category(ch)
        assert cat not in ("Cc", "Cf", "Co", "Cn", "Cs") or (ch == "\n" and multiline), repr(ch)
        marks = marks + 1 if cat[0] == "M" else 0
        assert marks <= MAX_MARKS
    assert safe_display(out, max_len, multiline) == out  # once is enough


# ------------------------------------------------------------------ a hostile visitor


def test_guessing_survives_a_restart_and_an_owned_code_clears_nothing(tmp_path: Path) -> None:
    """The reviewer's pattern: four wrong codes, then a code the attacker owns, again and again."""
    from lobby.commands import CommandContext, lobby_specs
    from lobby.config import parse_config
    from lobby.services import LobbyServices
    from mqtt_bridge.alerts import AlertEngine
    from mqtt_bridge.clock import ManualClock
    from mqtt_bridge.commands import CommandIntake
    from tests.helpers.site_config import site_toml
    from tests.services.services_helpers import CARD_KEY, command
    import datetime as dt

    cfg = parse_config(site_toml(state_dir=tmp_path, port=1883, extra="", mqtt_extra="", discovery="false"))
    store = Store(tmp_path / "lobby.db")
    clock = ManualClock(dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.timezone.utc), boot_id="boot-1")
    services = LobbyServices(store, cfg, card_key=CARD_KEY, clock=clock)
    with store.transaction() as tx:
        tx.execute("INSERT INTO directory (id, unit, company, person, floor, active, updated_ts) "
                   "VALUES ('h-1', '8F', 'Acme', 'Bob', '8F', 1, '2026-11-25T00:00:00Z')")
    intake = CommandIntake(store, lobby_specs(CommandContext(cfg, None, AlertEngine(store), CARD_KEY), clock),
                           cfg.mqtt.command_max_bytes)
    assert command(intake, "visitor.invite", {
        "invite_id": "mine", "code": "24681012", "visitor_name": "Owner", "visitor_phone": "13900001111",
        "host_id": "h-1", "purpose": "meeting", "valid_from": "2026-11-25T09:00:00Z"})["ok"]
    wrong = 0
    for _ in range(3):
        for guess in ("11111111", "22222222", "33333333", "44444444"):
            outcome = services.invitations.find(guess)
            wrong += outcome.status == "unknown_code"
        services.invitations.find("24681012")  # the attacker's own code: clears nothing
    assert wrong < 12  # the delays began: not every guess was even looked up
    limited = services.invitations.find("55555555")
    assert limited.status == "rate_limited" and "请前台协助" in limited.message.zh
    assert AlertEngine(store).get("kiosk.guessing:invitation_code")["state"] == "active"
    # a restart of the kiosk (a new services object over the same store) remembers
    restarted = LobbyServices(store, cfg, card_key=CARD_KEY, clock=clock)
    assert restarted.invitations.find("55555555").status == "rate_limited"
    clock.advance(seconds=30)  # the honest visitor waits at most delay_max_s
    assert restarted.invitations.find("24681012").ok
    store.close()
