"""Retention purge, CSV export, the lobby CLI, and no personal data in any log line."""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lobby.services import CheckInForm, LobbyServices, TicketForm
from mqtt_bridge.clock import ManualClock
from lobby.commands import lobby_specs
from lobby.services.export import safe_cell
from lobby.services.invitations import InvitationService
from mqtt_bridge.alerts import AlertEngine
from lobby.cardhash import card_hash
from lobby.cli import main
from lobby.commands import CommandContext
from mqtt_bridge.commands import CommandIntake
from mqtt_bridge.store import Store
from tests.services.services_helpers import CARD_KEY, SHANGHAI, base_config, command, seed_directory

NOW = dt.datetime(2026, 11, 25, 3, 30, tzinfo=SHANGHAI)
DAYS = 60
RETENTION = """
[privacy]
visitor_retention_days = 30
ticket_contact_retention_days = 20
"""


def letters(d: int) -> str:
    return "K" + chr(ord("a") + d // 26) + chr(ord("a") + d % 26) + "x"


@dataclass
class Day:
    d: int
    visit_at: dt.datetime
    ticket_at: dt.datetime
    invite_until: dt.datetime
    markers: dict[str, list[str]]  # visitor / ticket / invitation markers that must go when expired


def fill(services: LobbyServices, clock: ManualClock) -> list[Day]:
    """Visits, cards, host replies, invitations, tickets and feedback on each of 60 days."""
    invitations = InvitationService(services.ctx, services.visitors)
    days = []
    for d in range(DAYS):
        tag = letters(d)
        visit_at = dt.datetime.combine(NOW.date() - dt.timedelta(days=d), dt.time(10, 0), SHANGHAI)
        clock.set_wall(visit_at)
        clock.advance(60)
        name, phone = f"Visitor {tag}", f"1390000{d:04d}"
        company, permit = f"Firma {tag} Ltd", f"PERMIT-{tag.upper()}"
        outcome = services.visitors.check_in(CheckInForm(
            name=name, phone=phone, company=company, host_id="h-1203", purpose="contractor", permit_no=permit,
            party_size=1 + d % 3, consent=True))
        assert outcome.ok, outcome
        uid = f"04{d:012X}"
        assert services.link_card(outcome.value.visit_id, uid).ok
        with services.ctx.store.transaction() as tx:
            services.visitors.apply_host_ack(tx, {"visit_id": outcome.value.visit_id,
                                                  "message": f"coming down for {name}", "eta_min": 3})
        if d % 2:
            clock.advance(3600)
            services.visitors.check_out(outcome.value.visit_id, "pass")
        invite_until = visit_at + dt.timedelta(hours=8)
        invitee, invitee_phone = f"Invitee {tag}", f"1380000{d:04d}"
        with services.ctx.store.transaction() as tx:
            invitations.receive_tx(tx, {
                "invite_id": f"inv-{d}", "code": f"{10000000 + d}", "qr_token": f"token_{tag}_0123456789",
                "visitor_name": invitee, "visitor_phone": invitee_phone, "host_id": "h-0801", "purpose": "meeting",
                "valid_from": (visit_at - dt.timedelta(hours=1)).isoformat(), "valid_until": invite_until.isoformat()})
        ticket_at = visit_at + dt.timedelta(hours=1)
        clock.set_wall(ticket_at)
        contact, contact_phone = f"Caller {tag}", f"1370000{d:04d}"
        assert services.tickets.create(TicketForm(kind="complaint", category="noise", description=f"噪音 case {d}",
                                                  contact_name=contact, contact_phone=contact_phone)).ok
        for face in ("happy", "unhappy", "very_happy"):
            services.feedback.press(face)
            clock.advance(30)
        days.append(Day(d, visit_at, ticket_at, invite_until, {
            "visitor": [name, phone, f"139****{d:04d}", company, permit, card_hash(CARD_KEY, uid),
                        f"coming down for {name}"],
            "invitation": [invitee, invitee_phone, f"TOKEN_{tag.upper()}_0123456789"],
            "ticket": [contact, contact_phone, f"137****{d:04d}"],
        }))
    return days


def all_text(store: Store) -> list[str]:
    """Every text value in every column of every table."""
    values = []
    for (table,) in store.connection().execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        for row in store.query(f"SELECT * FROM \"{table}\""):
            values.extend(v for v in row.values() if isinstance(v, str))
    return values


def snapshot(store: Store) -> dict[str, list[dict[str, Any]]]:
    tables = [r[0] for r in store.connection().execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: store.query(f"SELECT * FROM \"{t}\" ORDER BY rowid") for t in tables}


def test_purge_removes_exactly_the_expired_personal_data(make_services, clock) -> None:  # noqa: ANN001
    services = make_services(RETENTION)
    store = services.ctx.store
    days = fill(services, clock)
    before_people = store.query("SELECT site_day, sum(party_size) AS people, count(*) AS visits FROM visits "
                                "GROUP BY site_day ORDER BY site_day")
    before_tickets = store.query("SELECT ticket_no, kind, category, description, status, site_day FROM tickets "
                                 "ORDER BY ticket_no")
    before_scores = [services.feedback.satisfaction("day", (NOW.date() - dt.timedelta(days=d)).isoformat())
                     for d in range(DAYS)]

    clock.set_wall(NOW)
    report = services.privacy.purge()
    visitor_cut, ticket_cut = NOW - dt.timedelta(days=30), NOW - dt.timedelta(days=20)
    old_visits = sum(day.visit_at < visitor_cut for day in days)
    assert 25 <= old_visits <= 35 and report.visits_anonymised == old_visits
    assert report.tickets_anonymised == sum(day.ticket_at < ticket_cut for day in days)
    assert report.invitations_anonymised == sum(day.invite_until < visitor_cut for day in days)
    assert report.events_redacted > 0

    text = "\n".join(all_text(store))
    for day in days:
        for kind, expired in (("visitor", day.visit_at < visitor_cut), ("invitation", day.invite_until < visitor_cut),
                              ("ticket", day.ticket_at < ticket_cut)):
            for marker in day.markers[kind]:
                assert (marker in text) is (not expired), (day.d, kind, marker, expired)

    # the anonymous statistics are untouched
    assert store.query("SELECT site_day, sum(party_size) AS people, count(*) AS visits FROM visits "
                       "GROUP BY site_day ORDER BY site_day") == before_people
    assert store.query("SELECT ticket_no, kind, category, description, status, site_day FROM tickets "
                       "ORDER BY ticket_no") == before_tickets
    assert [services.feedback.satisfaction("day", (NOW.date() - dt.timedelta(days=d)).isoformat())
            for d in range(DAYS)] == before_scores
    assert store.scalar("SELECT count(*) FROM visitor_passes") == DAYS
    assert store.scalar("SELECT count(*) FROM visits WHERE anonymised_ts IS NOT NULL") == old_visits
    assert store.scalar("SELECT count(*) FROM visits WHERE anonymised_ts IS NULL AND name IS NOT NULL") == DAYS - old_visits

    # purge twice = the same result
    state = snapshot(store)
    again = services.privacy.purge()
    assert again.total == 0 and snapshot(store) == state


def test_redacted_events_still_validate_and_keep_their_ids(make_services, clock) -> None:  # noqa: ANN001
    services = make_services(RETENTION)
    services.visitors.check_in(CheckInForm(name="Old Visitor", phone="13912345678", host_id="h-1203",
                                           purpose="meeting", consent=True))
    services.tickets.create(TicketForm(kind="complaint", category="noise", description="x", contact_name="Old Caller",
                                       contact_phone="13700001111"))
    clock.advance(days=45)
    report = services.privacy.purge()
    assert report.events_redacted == 2
    data = [json.loads(r["data"]) for r in services.ctx.store.query("SELECT data FROM outbox ORDER BY seq")]
    assert data[0]["redacted"] is True and "visitor_name" not in data[0] and "phone" not in data[0]
    assert data[0]["host"]["person"] == "" and data[0]["visit_id"]
    assert data[1]["redacted"] is True and "contact" not in data[1]
    # (the store fixture validates every outbox event against its schema at teardown)


def test_command_copies_are_scrubbed_and_statistics_expire(make_services, clock) -> None:  # noqa: ANN001
    services = make_services("[privacy]\nvisitor_retention_days = 30\nstats_retention_days = 30\n")
    store = services.ctx.store
    with store.transaction() as tx:
        for cmd_id, name, ts in (("old-ack", "visitor.host_ack", "2026-10-01T00:00:00.000Z"),
                                 ("new-ack", "visitor.host_ack", "2026-11-24T00:00:00.000Z"),
                                 ("old-ping", "ping", "2026-10-01T00:00:00.000Z")):
            tx.execute("INSERT INTO commands (id, name, received_ts, ok, data) VALUES (?, ?, ?, 1, ?)",
                       (cmd_id, name, ts, json.dumps({"visit_id": "v", "message": "for Mr Secret"})))
    clock.set_wall(NOW - dt.timedelta(days=40))
    services.visitors.check_in(CheckInForm(name="Ancient", phone="13912345678", host_id="h-1203", purpose="meeting",
                                           consent=True))
    services.tickets.create(TicketForm(kind="praise", category="cleaning", description="很干净"))
    services.feedback.press("happy")
    services.rollcall.start()
    services.rollcall.close()
    clock.set_wall(NOW - dt.timedelta(days=38))
    services.feedback.publish_periods()
    clock.set_wall(NOW)
    services.feedback.press("happy")
    report = services.privacy.purge()
    assert report.commands_scrubbed == 1
    # issue #13: the command log itself goes with the personal data (a newer command keeps its row)
    assert {r["id"]: r["data"] is None for r in store.query("SELECT id, data FROM commands")} == {"new-ack": False}
    assert report.commands_deleted == 2
    assert (report.visits_deleted, report.tickets_deleted, report.roll_calls_deleted, report.feedback_deleted,
            report.periods_deleted) == (1, 1, 1, 1, 1)
    assert store.scalar("SELECT count(*) FROM feedback") == 1
    assert services.privacy.purge().total == 0


# ---------------------------------------------------------------------- export and CLI


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "lobby.toml"
    path.write_text(base_config(tmp_path / "state"))
    return path


def test_export_and_purge_from_the_command_line(config_file: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from lobby.config import load_config, state_path

    cfg = load_config(config_file)
    clock = ManualClock(dt.datetime(2026, 11, 25, 9, 30, tzinfo=SHANGHAI))
    with Store(state_path(cfg, cfg.store.path)) as store:
        seed_directory(store)
        services = LobbyServices(store, cfg, card_key=CARD_KEY, clock=clock)
        services.visitors.check_in(CheckInForm(name="张伟", phone="13812345678", company="=HYPERLINK(\"x\")",
                                               host_id="h-1203", purpose="meeting", consent=True))
        services.tickets.create(TicketForm(kind="repair", category="engineering", description="灯不亮\n第二行",
                                           floor="2F", contact_phone="+447911123456"))
        services.feedback.press("unhappy", reason="waiting")
    out = tmp_path / "export"
    assert main(["export", "-c", str(config_file), "--day", "2026-11-25", "--out", str(out)]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == ["feedback-2026-11-25.csv", "tickets-2026-11-25.csv", "visitors-2026-11-25.csv"]
    raw = (out / "visitors-2026-11-25.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert (out / "visitors-2026-11-25.csv").stat().st_mode & 0o077 == 0
    with open(out / "visitors-2026-11-25.csv", encoding="utf-8-sig", newline="") as fh:
        header, row = list(csv.reader(fh))
    visit = dict(zip(header, row))
    assert visit["姓名 Name"] == "张伟" and visit["手机号 Phone"] == "13812345678"
    assert visit["单位 Company"] == "'=HYPERLINK(\"x\")" and visit["进入时间 Time in"] == "2026-11-25 09:30:00"
    assert visit["事由 Purpose"] == "商务拜访 Meeting"
    with open(out / "tickets-2026-11-25.csv", encoding="utf-8-sig", newline="") as fh:
        ticket = dict(zip(*list(csv.reader(fh))))
    assert ticket["联系电话 Phone"] == "'+447911123456" and ticket["描述 Description"] == "灯不亮\n第二行"
    with open(out / "feedback-2026-11-25.csv", encoding="utf-8-sig", newline="") as fh:
        press = dict(zip(*list(csv.reader(fh))))
    assert press["评价 Rating"] == "不满意 Unhappy" and press["原因 Reason"] == "等候时间长 Waiting time"
    capsys.readouterr()

    assert main(["export", "-c", str(config_file), "--day", "2026-11-25"]) == 0  # into privacy.export_dir
    exports = state_path(cfg, cfg.privacy.export_dir)
    (exports / "notes.txt").write_text("the desk's own file")
    assert main(["export", "-c", str(config_file), "--day", "2026-12-31"]) == 0  # a day still in retention
    capsys.readouterr()
    assert main(["purge", "-c", str(config_file), "--now", "2027-01-01T03:30:00+08:00", "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["visits_anonymised"] == 1 and counts["tickets_anonymised"] == 0
    assert counts["exports_deleted"] == 3  # the personal data's copies go with it
    assert sorted(p.name for p in exports.iterdir()) == [
        "feedback-2026-12-31.csv", "notes.txt", "tickets-2026-12-31.csv", "visitors-2026-12-31.csv"]
    assert main(["purge", "-c", str(config_file), "--now", "2027-01-01T03:30:00+08:00", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out).values()) == {0}
    assert main(["purge", "-c", str(config_file), "--now", "yesterday"]) == 2
    with pytest.raises(SystemExit):
        main(["export", "-c", str(config_file), "--day", "25/11/2026"])
    assert main(["export", "-c", str(config_file), "--day", "today", "--out", str(tmp_path / "today")]) == 0
    today = dt.datetime.now(SHANGHAI).date().isoformat()
    assert (tmp_path / "today" / f"visitors-{today}.csv").is_file()


def test_safe_cell() -> None:
    assert [safe_cell(v) for v in ("=1+1", "+86", "-x", "@a", "\tx", "普通", None, 3)] == [
        "'=1+1", "'+86", "'-x", "'@a", "'\tx", "普通", "", "3"]


# ---------------------------------------------------------------------- logs


def test_no_personal_data_in_any_log_line(make_services, badge_printer, caplog, clock) -> None:  # noqa: ANN001
    caplog.set_level(logging.DEBUG)
    services = make_services("[visitors]\nwatchlist_enabled = true\nwatchlist = [{ id = \"wl-1\", name = \"Mallory Evil\" }]\n",
                             printer=badge_printer)
    store = services.ctx.store
    ctx = CommandContext(services.ctx.cfg, None, AlertEngine(store), services.ctx.card_key)
    intake = CommandIntake(store, lobby_specs(ctx, clock), 65536)
    secrets = ["张伟", "13812345678", "Secret Corp", "SG-991", "Mallory", "13900001111", "Caller Person",
               "13700001234", "Invitee Person", "13600002222", "04A1B2C3D4E5F6", "李娜马上下来"]
    visit = services.visitors.check_in(CheckInForm(name="张伟", phone="13812345678", company="Secret Corp",
                                                   host_id="h-1203", purpose="contractor", permit_no="SG-991",
                                                   consent=True)).value
    services.print_badge(visit.visit_id)
    services.link_card(visit.visit_id, "04A1B2C3D4E5F6")
    command(intake, "visitor.host_ack", {"visit_id": visit.visit_id, "message": "李娜马上下来"})
    command(intake, "visitor.host_ack", {"visit_id": "nope", "message": "李娜马上下来"})
    held = services.visitors.check_in(CheckInForm(name="Mallory Evil", phone="13900001111", host_id="h-1203",
                                                  purpose="meeting", consent=True)).value
    services.visitors.deny(held.visit_id, "s-1")
    services.visitors.find_by_phone_last4("5678")
    services.visitors.check_out_by_card("04A1B2C3D4E5F6")
    services.visitors.check_out_by_card("04A1B2C3D4E5F6")
    number = services.tickets.create(TicketForm(kind="complaint", category="noise", description="x",
                                                contact_name="Caller Person", contact_phone="13700001234")).value.ticket_no
    services.tickets.print_receipt(number)
    command(intake, "ticket.update", {"ticket_no": number, "reply": "Dear Caller Person, 13700001234",
                                      "next_reply_by": "2026-11-26T10:00:00+08:00"})
    command(intake, "ticket.update", {"ticket_no": number, "status": "return_visit_done"})
    bad = {"invite_id": "i1", "code": "12345678", "visitor_name": "Invitee Person", "visitor_phone": "13600002222",
           "host_id": "nobody", "purpose": "meeting", "valid_from": "2026-11-25T00:00:00Z"}
    command(intake, "visitor.invite", bad)
    command(intake, "visitor.invite", {**bad, "host_id": "h-1203"})
    services.invitations.find("12345678")
    services.rollcall.start()
    services.rollcall.print()
    services.rollcall.close()
    clock.advance(days=40)
    services.every_minute()
    services.daily()
    logged = "\n".join(f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records, "expected some log lines"
    for secret in secrets:
        assert secret not in logged, secret
