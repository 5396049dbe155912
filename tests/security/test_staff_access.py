"""Staff access at the service level: only allowlisted cards open the staff role.

The allowlist is the `cards` table: keyed hashes (lobby.cardhash) of the local
`kiosk.staff_cards` and of central's `cards.update`. Checked here: who gets the staff
role and who does not (guards, deactivated cards, unknown cards, another site's
hashes), that a UID is never stored in clear, that a tap of an unknown card is logged
without the UID, and the kiosk's PIN lockout (lobby/services/pin.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from lobby.services import LobbyServices
from mqtt_bridge.alerts import AlertEngine
from lobby.cardhash import card_hash, load_key
from mqtt_bridge.clock import ManualClock
from lobby.commands import CommandContext, default_specs
from mqtt_bridge.commands import CommandIntake
from lobby.config import parse_config
from lobby.runtime import sync_config_cards
from mqtt_bridge.store import Store

from lobby.services.cards import staff_card

LOCAL_STAFF = "5A3B9C01"
CENTRAL_STAFF = "04A1B2C3D4E5F6"
GUARD = "7E11AA01"
REVOKED = "04FFEEDDCCBBAA"
UNKNOWN = "0BADCAFE"
CONFIG = """version = 1
state_dir = "{state}"
[site]
site_id = "tower-a"
gateway_id = "gw-test"
[mqtt]
host = "127.0.0.1"
[kiosk]
staff_cards = ["{staff}"]
"""


@pytest.fixture
def site(tmp_path: Path) -> Any:
    cfg = parse_config(CONFIG.format(state=tmp_path / "state", staff=LOCAL_STAFF))
    key = load_key(cfg.state_dir)
    store = Store(tmp_path / "lobby.db")
    alerts = AlertEngine(store)
    sync_config_cards(store, cfg, key)
    intake = CommandIntake(store, default_specs(CommandContext(cfg, None, alerts, key)), 65536)
    services = LobbyServices(store, cfg, card_key=key, alerts=alerts,
                             clock=ManualClock(dt.datetime(2026, 11, 25, 10, tzinfo=dt.timezone.utc)))

    class Site:
        pass

    s = Site()
    s.cfg, s.key, s.store, s.intake, s.services = cfg, key, store, intake, services

    def cards(data: dict[str, Any], cmd_id: str) -> dict[str, Any]:
        body = json.dumps({"id": cmd_id, "ts": "2026-11-25T10:00:00Z", "data": data}).encode()
        return json.loads(intake.handle("cards.update", body).payload())

    s.cards = cards
    yield s
    store.close()


def _central_cards(site: Any, cmd_id: str = "cards-1", replace: bool = True) -> None:
    result = site.cards({"replace": replace, "cards": [
        {"uid": CENTRAL_STAFF, "role": "staff", "holder_id": "s-01"},
        {"uid": GUARD, "role": "guard", "holder_id": "g-wang"},
        {"uid": REVOKED, "role": "staff", "holder_id": "s-02", "active": False}]}, cmd_id)
    assert result["ok"] is True, result


def test_only_allowlisted_active_staff_cards_open_the_staff_role(site: Any) -> None:
    _central_cards(site)
    ctx = site.services.ctx
    assert staff_card(ctx, LOCAL_STAFF) is not None and staff_card(ctx, LOCAL_STAFF).holder_id is None
    assert staff_card(ctx, CENTRAL_STAFF).holder_id == "s-01"
    for uid in (GUARD, REVOKED, UNKNOWN, "", "zz", "not hex at all", "5A3B9C0", "5A3B9C01FF"):
        assert staff_card(ctx, uid) is None, uid


def test_uid_spellings_are_one_card(site: Any) -> None:
    ctx = site.services.ctx
    for spelling in ("5a3b9c01", "5A:3B:9C:01", "5a-3b-9c-01", " 5A 3B 9C 01 "):
        assert staff_card(ctx, spelling) is not None, spelling


def test_another_sites_hashes_open_nothing_here(site: Any, tmp_path: Path) -> None:
    """A cards table copied from another gateway is useless: each site has its own HMAC key."""
    other_key = load_key(tmp_path / "other-site")
    assert other_key != site.key
    with site.store.transaction() as tx:
        tx.execute("DELETE FROM cards")
        tx.execute("INSERT INTO cards (uid_hash, role, holder_id, active, source, updated_ts) "
                   "VALUES (?, 'staff', 'x', 1, 'central', '2026-11-25T10:00:00Z')",
                   (card_hash(other_key, UNKNOWN),))
    assert staff_card(site.services.ctx, UNKNOWN) is None


def _tables_holding(site: Any, uids: list[str]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for table in [r["name"] for r in site.store.query("SELECT name FROM sqlite_master WHERE type = 'table'")]:
        for row in site.store.query(f"SELECT * FROM {table}"):  # noqa: S608
            text = json.dumps(row, ensure_ascii=False, default=str).upper().replace(":", "")
            if [u for u in uids if u in text]:
                found.append((table, row))
    return found


def test_the_allowlist_keeps_only_keyed_hashes(site: Any) -> None:
    _central_cards(site)
    assert site.store.scalar("SELECT count(*) FROM cards") == 4
    assert [t for t, _ in _tables_holding(site, [LOCAL_STAFF, CENTRAL_STAFF, GUARD, REVOKED]) if t != "commands"] == []


def test_no_table_keeps_a_card_uid_in_clear(site: Any) -> None:
    _central_cards(site)
    assert _tables_holding(site, [LOCAL_STAFF, CENTRAL_STAFF, GUARD, REVOKED]) == []


def test_a_guard_or_staff_card_is_never_linked_as_a_visitor_pass(site: Any) -> None:
    from lobby.services import CheckInForm

    _central_cards(site)
    with site.store.transaction() as tx:
        tx.execute("INSERT INTO directory (id, unit, company, person, floor, active, updated_ts) "
                   "VALUES ('h1', '1201', 'Acme', '', '12F', 1, '2026-11-01T00:00:00Z')")
    visit = site.services.visitors.check_in(CheckInForm(name="Ann Lee", phone="13800138000", host_id="h1",
                                                        purpose="meeting", consent=True))
    assert visit.ok
    for uid in (LOCAL_STAFF, CENTRAL_STAFF, GUARD):
        outcome = site.services.link_card(visit.value.visit_id, uid)
        assert outcome.ok is False and outcome.status == "card_not_visitor", uid


def test_the_local_allowlist_survives_centrals_replacements(site: Any) -> None:
    assert site.cards({"cards": [{"uid": LOCAL_STAFF, "role": "staff", "holder_id": "s-09"}]}, "c1")["ok"]
    assert site.cards({"cards": [{"uid": CENTRAL_STAFF, "role": "staff"}]}, "c2")["ok"]  # replace: true
    assert staff_card(site.services.ctx, LOCAL_STAFF) is not None


def _uid_patterns(uid: str) -> re.Pattern[str]:
    pairs = [uid[i:i + 2] for i in range(0, len(uid), 2)]
    return re.compile("[ :-]?".join(pairs), re.IGNORECASE)


def test_an_unknown_card_tap_is_logged_without_the_uid(site: Any, caplog: pytest.LogCaptureFixture) -> None:
    nfc = pytest.importorskip("lobby.taps")
    from lobby.patrol import PatrolEngine

    caplog.set_level(logging.DEBUG)
    patrol = PatrolEngine(site.cfg, site.store, AlertEngine(site.store), card_key=site.key, secret=b"s" * 32)
    router = nfc.CardRouter(site.services, patrol)
    tapped = [UNKNOWN, "04112233445566", "0102030405060708090A"]
    for uid in tapped:
        result = router.route(uid, "nfc-lobby")
        assert result.route == "unknown" and result.ok is False
    staff = router.route(LOCAL_STAFF, "nfc-lobby")
    assert staff.route == "staff"
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "not recognised" in text
    leaked = [uid for uid in tapped + [LOCAL_STAFF] if _uid_patterns(uid).search(text)]
    assert leaked == [], leaked


def test_pin_lockout_counts_on_the_monotonic_clock() -> None:
    pin = pytest.importorskip("lobby.services.pin")
    now = [1000.0]
    gate = pin.PinGate(pin.hash_pin("246810", salt=b"\0" * 16), max_attempts=5, lockout_min=5,
                       monotonic=lambda: now[0])
    assert gate.check("246810").ok
    for n in range(4):
        result = gate.check("000000")
        assert (result.status, result.attempts_left) == ("wrong", 4 - n)
    assert gate.check("000000").status == "locked"
    assert gate.check("246810").status == "locked"  # even the right PIN, while locked
    now[0] += 4 * 60
    assert gate.check("246810").status == "locked"
    now[0] += 61
    assert gate.check("246810").ok  # the lockout ran out on the monotonic clock
    assert gate.check("not digits").status == "wrong"
    assert pin.PinGate(None, 5, 5).check("246810").status == "unset"
