"""No personal data in logs, none in MQTT beyond what the config allows, none in the store past retention.

A full simulated day: `lobby gateway --simulate` (its own process, DEBUG logging) with
meters, buttons and a checkpoint reader; the lobby services in this process as the
kiosk calls them (DEBUG logging captured raw, without the product's phone-masking
filter); central sending a directory, an invitation, ticket replies, a host's reply
and an evacuation. Visitors and ticket contacts have distinctive names, phones typed
in every usual format, companies, a work permit and temporary pass cards; one visitor
even taps their pass card on a patrol checkpoint reader. Then `lobby export` and
`lobby purge` run at DEBUG level too.

Checked: no log line of any process contains a name, phone (in any formatting),
company, permit or visitor card UID; every message central received keeps phones
masked and carries names only in the two fields the config allows
(visitor.checked_in.visitor_name, ticket.created.contact.name); after a purge at a
fixed later "now" (past every retention period), no text column of any table holds
any of it.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lobby.services import CheckInForm, LobbyServices, TicketForm
from lobby.cardhash import load_key
from lobby.config import load_config
from mqtt_bridge.store import Store
from tests.helpers.broker import Broker
from tests.helpers.central import Central
from tests.helpers.gateway_rig import GUARD_CARD, ROOT, GatewayProcess, gateway_config, sim_dir, wait_path

pytestmark = pytest.mark.slow

# (name, phone as typed, canonical phone, company, permit or None, pass card UID or None)
VISITORS = [
    ("Zebulon Quarrington", "139 2468 1357", "13924681357", "Quarrington Holdings", None, "04C0FFEE123456"),
    ("Ottoline Vexworth", "+86 138-1122-3344", "13811223344", "Vexworth & Daughters 维克斯", None, "DEADBEEF"),
    ("欧阳晓翎", "0086 (137) 5566 7788", "13755667788", "翎羽科技有限公司", "PRM-77QX-2041", "04A9B8C7D6E5F4"),
    ("Þórhildur Ásgeirsdóttir", "+44 7911 123456", "+447911123456", None, None, None),
]
INVITED = ("Barnaby Quillfeather", "13566778899", "Quillfeather Lamps")
CONTACTS = [("Marisol Featherstonehaugh", "136-9876-5432", "13698765432"), ("司徒慕蓉", "+8613512340987", "13512340987")]
HOST_REPLY = "请Zebulon Quarrington先生稍候，我5分钟下楼"


def _phone_pattern(canonical: str) -> re.Pattern[str]:
    """The phone's digits in any formatting: separators between digits, an optional +86/0086 prefix."""
    digits = canonical.lstrip("+")
    if not canonical.startswith("+"):
        digits = digits[-11:]
    return re.compile(r"[\s\-.()]*".join(digits))


def _uid_pattern(uid: str) -> re.Pattern[str]:
    return re.compile("[ :-]?".join(uid[i:i + 2] for i in range(0, len(uid), 2)), re.IGNORECASE)


def _secrets() -> dict[str, re.Pattern[str]]:
    found: dict[str, re.Pattern[str]] = {}
    for name, _typed, phone, company, permit, card in VISITORS:
        found[f"name {name}"] = re.compile(re.escape(name))
        found[f"phone {phone}"] = _phone_pattern(phone)
        if company:
            found[f"company {company}"] = re.compile(re.escape(company))
        if permit:
            found[f"permit {permit}"] = re.compile(re.escape(permit), re.IGNORECASE)
        if card:
            found[f"card {card}"] = _uid_pattern(card)
    found[f"name {INVITED[0]}"] = re.compile(re.escape(INVITED[0]))
    found[f"phone {INVITED[1]}"] = _phone_pattern(INVITED[1])
    found[f"company {INVITED[2]}"] = re.compile(re.escape(INVITED[2]))
    for name, _typed, phone in CONTACTS:
        found[f"name {name}"] = re.compile(re.escape(name))
        found[f"phone {phone}"] = _phone_pattern(phone)
    found["host reply"] = re.compile(re.escape(HOST_REPLY[:12]))
    return found


def _leaks(text: str, secrets: dict[str, re.Pattern[str]]) -> list[str]:
    return [label for label, pattern in secrets.items() if pattern.search(text)]


class _RawCapture(logging.Handler):
    """Every record at DEBUG, as formatted text, without the product's phone mask."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.buffer = io.StringIO()
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.buffer.write(self.format(record) + "\n")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lobby.cli", "--log-level", "DEBUG", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Plays the day once; the tests below each check one place where data could leak."""
    tmp_path = tmp_path_factory.mktemp("privacy")
    broker = Broker(tmp_path / "broker").start()
    state = tmp_path / "state"
    config = tmp_path / "lobby.toml"
    config.write_text(gateway_config(state, broker.port, interval_s=2))
    cfg = load_config(config)
    central = Central(broker.port, cfg.base_topic, client_id="central-privacy")
    gateway = GatewayProcess(config, tmp_path / "gateway.log", log_level="DEBUG").start()
    capture = _RawCapture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    store = Store(state / cfg.store.path)
    try:
        assert wait_path(sim_dir(state) / "gpio.sock", 30, gateway), (tmp_path / "gateway.log").read_text()[-2000:]
        central.wait_for(lambda: f"{cfg.base_topic}/status" in central.retained, what="gateway online")
        services = LobbyServices(store, cfg, card_key=load_key(cfg.state_dir))
        _play_the_day(services, central, cfg, state)
        last = store.scalar("SELECT value FROM counters WHERE name = 'seq'")
        central.wait_seqs(last, timeout=60)
        assert gateway.stop() == 0
        store.close()
        export = _cli("export", "--config", str(config), "--day", dt.datetime.now(services.ctx.tz).date().isoformat())
        assert export.returncode == 0, export.stderr
        later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=200)).isoformat()
        purge = _cli("purge", "--config", str(config), "--now", later, "--json")
        assert purge.returncode == 0, purge.stderr
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)
        store.close()
        gateway.kill()
        central.close()
        broker.stop()
    with central.lock:
        messages = [(topic, payload) for topic, payloads in central.by_topic.items() for payload in payloads]
        events = list(central.events)
    rows = []
    with Store(state / cfg.store.path) as after:
        for table in [r["name"] for r in after.query("SELECT name FROM sqlite_master WHERE type = 'table'")]:
            rows += [(table, json.dumps(r, ensure_ascii=False, default=str))
                     for r in after.query(f"SELECT * FROM {table}")]  # noqa: S608 - our own table names
    raw = b"".join(p.read_bytes() for p in sorted(state.glob(cfg.store.path + "*")) if p.is_file())
    return {"raw_store": raw.decode("utf-8", errors="replace"), "logs": {"gateway": (tmp_path / "gateway.log").read_text(errors="replace"),
                     "lobby services": capture.buffer.getvalue(), "export": export.stdout + export.stderr,
                     "purge": purge.stdout + purge.stderr},
            "messages": messages, "events": events, "invalid": central.invalid, "rows": rows,
            "purged": json.loads(purge.stdout)}


# The reader driver logs every tap's UID at DEBUG (drivers/nfc/base.py:122), and so does the PN532
# simulator (drivers/nfc/sim/pn532.py:487); their lines are checked apart, below.
_TAP_LINE = re.compile(r"drivers\.nfc\.base: reader \S+: tap |drivers\.nfc\.sim\.pn532: tag presented")


def test_no_log_line_of_any_process_holds_personal_data(day: dict[str, Any]) -> None:
    secrets = _secrets()
    assert len(day["logs"]["gateway"]) > 10_000 and "DEBUG" in day["logs"]["gateway"]  # DEBUG really was on
    leaked = {}
    for where, text in day["logs"].items():
        lines = "\n".join(line for line in text.splitlines() if not _TAP_LINE.search(line))
        if _leaks(lines, secrets):
            leaked[where] = _leaks(lines, secrets)
    assert leaked == {}


def test_no_card_uid_in_a_debug_line_of_the_reader_driver(day: dict[str, Any]) -> None:
    secrets = {k: v for k, v in _secrets().items() if k.startswith("card ")}
    assert _leaks(day["logs"]["gateway"], secrets) == []


def test_central_gets_masked_phones_and_names_only_where_the_config_allows(day: dict[str, Any]) -> None:
    secrets = _secrets()
    problems = []
    for topic, payload in day["messages"]:
        if "/cmd/" in topic and not topic.endswith("/result"):
            continue  # what central itself sent
        found = [label for label in _leaks(payload.decode("utf-8", errors="replace"), secrets)
                 if not label.startswith("name ")]
        if found:
            problems.append((topic, found))
    for event in day["events"]:
        for label in [x for x in _leaks(json.dumps(event, ensure_ascii=False), secrets) if x.startswith("name ")]:
            name = label[5:]
            data = event["data"]
            allowed = (event["type"] == "visitor.checked_in" and data.get("visitor_name") == name) or \
                (event["type"] == "ticket.created" and data.get("contact", {}).get("name") == name)
            rest = json.dumps({k: v for k, v in data.items() if k not in ("visitor_name", "contact")},
                              ensure_ascii=False)
            if not allowed or name in rest:
                problems.append((event["type"], label))
    assert problems == []
    masked = [e["data"]["phone"] for e in day["events"] if e["type"] == "visitor.checked_in"]
    assert len(masked) == len(VISITORS) + 1 and all("*" in p for p in masked)
    contacts = [e["data"]["contact"] for e in day["events"] if e["type"] == "ticket.created" and "contact" in e["data"]]
    assert len(contacts) == len(CONTACTS) and all(c["phone_masked"] and "*" in c["phone"] for c in contacts)
    assert day["invalid"] == []


def test_nothing_personal_is_left_in_the_store_past_retention(day: dict[str, Any]) -> None:
    secrets = _secrets()
    assert day["purged"]["visits_anonymised"] >= len(VISITORS) + 1
    assert day["purged"]["tickets_anonymised"] >= len(CONTACTS)
    found = [(table, _leaks(text, secrets)) for table, text in day["rows"] if _leaks(text, secrets)]
    assert found == []


def _play_the_day(services: LobbyServices, central: Central, cfg: Any, state: Path) -> None:
    from drivers.gpio.sim import GpioControlClient
    from drivers.nfc.sim.pn532_control import ControlClient

    def ok(result: dict[str, Any]) -> dict[str, Any]:
        assert result["ok"], result
        return result

    ok(central.command("directory.update", {"entries": [
        {"id": "h-1203", "unit": "12F-1203", "company": "华润置地", "person": "李娜", "floor": "12F"},
        {"id": "h-0801", "unit": "8F-0801", "company": "Acme Trading", "floor": "8F"}]}))
    now = dt.datetime.now(dt.timezone.utc)
    ok(central.command("visitor.invite", {
        "invite_id": "inv-1", "code": "48291357", "visitor_name": INVITED[0], "visitor_phone": INVITED[1],
        "visitor_company": INVITED[2], "host_id": "h-1203", "purpose": "meeting",
        "valid_from": (now - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")}))
    found = services.invitations.find("48291357")
    assert found.ok, found
    assert services.invitations.confirm(found.value.invitation_id, consent=True).ok

    visits = []
    for name, typed, _phone, company, permit, card in VISITORS:
        form = CheckInForm(name=name, phone=typed, host_id="h-1203", company=company, permit_no=permit,
                           purpose="contractor" if permit else "meeting", party_size=2, consent=True)
        assert services.visitors.validate(form).ok
        outcome = services.visitors.check_in(form)
        assert outcome.ok and outcome.status == "checked_in", outcome
        assert services.visitors.check_in(form).status == "duplicate"  # the same form sent twice
        visits.append(outcome.value)
        if card:
            assert services.link_card(outcome.value.visit_id, card).ok
    bad = services.visitors.check_in(CheckInForm(name="Zebulon Quarrington 2", phone="139246813570", host_id="h-1203",
                                                 purpose="meeting", consent=True))
    assert not bad.ok
    ok(central.command("visitor.host_ack", {"visit_id": visits[0].visit_id, "message": HOST_REPLY, "eta_min": 5}))

    numbers = []
    for name, typed, _phone in CONTACTS:
        outcome = services.tickets.create(TicketForm(kind="complaint", category="noise", description="楼上噪音 noise",
                                                     contact_name=name, contact_phone=typed))
        assert outcome.ok, outcome
        numbers.append(outcome.value.ticket_no)
    next_reply = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ok(central.command("ticket.update", {"ticket_no": numbers[0], "status": "assigned", "reply": "已派人 on our way",
                                         "next_reply_by": next_reply}))
    assert services.tickets.lookup(numbers[0]).ok
    for face in ("happy", "unhappy", "very_happy"):
        assert services.feedback.press(face).ok

    panel = GpioControlClient(sim_dir(state) / "gpio.sock")
    reader = ControlClient(sim_dir(state) / "nfc-gw.sock")
    try:
        panel.click("btn-toilet")
        panel.click("face-happy")
        for uid in (GUARD_CARD, VISITORS[0][5]):  # a guard's round, and a visitor's pass card on the same reader
            reader.present(uid, "classic_1k")
            time.sleep(1.0)
            reader.remove()
            time.sleep(0.5)
    finally:
        panel.close()
        reader.close()

    ok(central.command("evacuation.start", {"reason": "fire alarm drill", "drill": True}))
    assert services.rollcall.mark_safe(visits[0].visit_id).ok
    ok(central.command("evacuation.end", {}))

    assert services.visitors.check_out_by_card(VISITORS[0][5]).ok
    choices = services.visitors.find_by_phone_last4("3344")
    assert choices.ok and choices.value
    assert services.visitors.check_out(choices.value[0].visit_id, "phone").ok
    assert services.visitors.check_out_by_pass(visits[2].pass_no).ok
    assert services.visitors.check_out_by_card(VISITORS[1][5]).status in ("already_out", "checked_out")
    services.every_minute()
    central.wait_for(lambda: central.events_of("patrol.scan") and central.events_of("button.pressed"),
                     timeout=20, what="the gateway's share of the day")


def test_purged_personal_data_is_gone_from_the_files_on_disk(day: dict[str, Any]) -> None:
    """Not just the columns: the bytes of the database and its WAL. This holds because SQLite overwrites
    deleted content (Debian and Raspberry Pi OS build it with SQLITE_SECURE_DELETE); the store does not set
    PRAGMA secure_delete itself, so a build without that default would keep purged text in free pages."""
    import sqlite3

    on = sqlite3.connect(":memory:").execute("PRAGMA secure_delete").fetchone()[0]
    if not on:
        pytest.skip("this SQLite does not overwrite deleted content by default (PRAGMA secure_delete = 0)")
    secrets = {k: v for k, v in _secrets().items() if k.startswith(("name ", "phone "))}
    assert _leaks(day["raw_store"], secrets) == []
