"""The site's data that central maintains: notices, the tenant directory, staff and guard cards.

Every text shown on the screen passes lobby.services.text.safe_display on the way in
(no bidi overrides, control or zero-width characters, stacked marks; bounded length).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lobby.cardhash import card_hash
from lobby.commands.context import CommandContext
from lobby.services.text import safe_display
from mqtt_bridge.commands import CommandRejected
from mqtt_bridge.store import Transaction
from mqtt_bridge.timebase import Stamp


def notice_show(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
    tx.execute(
        "INSERT INTO notices (notice_id, title, body, until_ts, shown_ts) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(notice_id) DO UPDATE SET title=excluded.title, body=excluded.body, "
        "until_ts=excluded.until_ts, shown_ts=excluded.shown_ts",
        (data["notice_id"], safe_display(data["title"], 200), safe_display(data.get("body", ""), multiline=True),
         data.get("until"), Stamp.now().ts))
    return {"notice_id": data["notice_id"]}


def notice_hide(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
    removed = tx.execute("DELETE FROM notices WHERE notice_id = ?", (data["notice_id"],)).rowcount
    if not removed:
        raise CommandRejected(f"no notice with id {data['notice_id']!r} is shown")
    return {"notice_id": data["notice_id"]}


def directory_update(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
    now = Stamp.now().ts
    if data.get("replace", True):
        tx.execute("DELETE FROM directory")
    for entry in data["entries"]:
        tx.execute(
            "INSERT INTO directory (id, unit, company, person, floor, active, updated_ts) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET unit=excluded.unit, company=excluded.company, person=excluded.person, "
            "floor=excluded.floor, active=excluded.active, updated_ts=excluded.updated_ts",
            (entry["id"], safe_display(entry["unit"], 100), safe_display(entry.get("company", ""), 200),
             safe_display(entry.get("person", ""), 100), safe_display(entry.get("floor", ""), 40),
             int(entry.get("active", True)), now))
    count = tx.execute("SELECT count(*) FROM directory WHERE active = 1").fetchone()[0]
    return {"entries": count}


def cards_update(ctx: CommandContext) -> Callable[[Transaction, dict[str, Any]], dict[str, Any]]:
    def handle(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
        now = Stamp.now().ts
        if data.get("replace", True):
            tx.execute("DELETE FROM cards WHERE source = 'central'")
        for card in data["cards"]:
            tx.execute(
                "INSERT INTO cards (uid_hash, role, holder_id, active, source, updated_ts) VALUES (?, ?, ?, ?, 'central', ?) "
                "ON CONFLICT(uid_hash) DO UPDATE SET role=excluded.role, holder_id=excluded.holder_id, "
                "active=excluded.active, source='central', updated_ts=excluded.updated_ts "
                "WHERE cards.source != 'config'",  # the site's own allowlist (kiosk.staff_cards) wins
                (card_hash(ctx.card_key, card["uid"]), card["role"], card.get("holder_id"),
                 int(card.get("active", True)), now))
        counts = dict(tx.execute("SELECT role, count(*) FROM cards WHERE active = 1 GROUP BY role").fetchall())
        return {"staff": counts.get("staff", 0), "guard": counts.get("guard", 0)}
    return handle
