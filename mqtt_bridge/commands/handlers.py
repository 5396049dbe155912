"""What each command from central does.

Handlers run inside the intake's transaction. Commands whose effect belongs to
another service (the kiosk shows a host's reply; the gateway turns an LED
steady) are queued for it in the commands table (the inbox) and answered
"queued"; the rest are applied here at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mqtt_bridge.alerts import AlertEngine
from lobby.cardhash import card_hash
from lobby.config import Config
from lobby.config.update import ConfigUpdateRejected, check_update, write_atomically
from mqtt_bridge.store import Transaction
from mqtt_bridge.timebase import BOOT_ID, Stamp
from mqtt_bridge.version import VERSION
from mqtt_bridge.commands.intake import CommandRejected, CommandSpec


class CommandContext:
    """What handlers need from their host: the config in force and where it lives."""

    def __init__(self, cfg: Config, config_path: Path | None, alerts: AlertEngine, card_key: bytes) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.alerts = alerts
        self.card_key = card_key


def _ping(ctx: CommandContext) -> Callable[[Transaction, dict[str, Any]], dict[str, Any]]:
    def handle(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {"version": VERSION, "config_version": ctx.cfg.version, "boot_id": BOOT_ID}
        if "echo" in data:
            result["echo"] = data["echo"]
        return result
    return handle


def _config_update(ctx: CommandContext) -> Callable[[Transaction, dict[str, Any]], dict[str, Any]]:
    def handle(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
        current = ctx.cfg.version
        if ctx.config_path is None:
            raise CommandRejected(f"this gateway runs without a config file; version {current} stays in force")
        try:
            new = check_update(ctx.cfg, ctx.config_path, data["version"], data["toml"])
            write_atomically(ctx.config_path, data["toml"])
        except ConfigUpdateRejected as exc:
            raise CommandRejected(f"config version {data['version']} rejected, version {current} stays in force: {exc}") from None
        except OSError as exc:
            raise CommandRejected(f"cannot write the config file ({exc.strerror}); version {current} stays in force") from None
        tx.emit("health", "config.applied", {"version": new.version, "previous_version": current})
        ctx.cfg = new
        return {"version_in_force": new.version, "previous_version": current, "restarting": True}
    return handle


def _alert_ack(ctx: CommandContext) -> Callable[[Transaction, dict[str, Any]], dict[str, Any]]:
    def handle(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
        key = data["key"]
        exists = tx.execute("SELECT acked FROM alerts WHERE key = ?", (key,)).fetchone()
        if exists is None:
            raise CommandRejected(f"there is no alert with key {key!r}")
        changed = ctx.alerts.ack(key, data.get("by", "central"), tx=tx)
        return {"key": key, "already_acked": not changed}
    return handle


def _notice_show(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
    tx.execute(
        "INSERT INTO notices (notice_id, title, body, until_ts, shown_ts) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(notice_id) DO UPDATE SET title=excluded.title, body=excluded.body, "
        "until_ts=excluded.until_ts, shown_ts=excluded.shown_ts",
        (data["notice_id"], data["title"], data.get("body", ""), data.get("until"), Stamp.now().ts))
    return {"notice_id": data["notice_id"]}


def _notice_hide(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
    removed = tx.execute("DELETE FROM notices WHERE notice_id = ?", (data["notice_id"],)).rowcount
    if not removed:
        raise CommandRejected(f"no notice with id {data['notice_id']!r} is shown")
    return {"notice_id": data["notice_id"]}


def _directory_update(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
    now = Stamp.now().ts
    if data.get("replace", True):
        tx.execute("DELETE FROM directory")
    for entry in data["entries"]:
        tx.execute(
            "INSERT INTO directory (id, unit, company, person, floor, active, updated_ts) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET unit=excluded.unit, company=excluded.company, person=excluded.person, "
            "floor=excluded.floor, active=excluded.active, updated_ts=excluded.updated_ts",
            (entry["id"], entry["unit"], entry.get("company", ""), entry.get("person", ""),
             entry.get("floor", ""), int(entry.get("active", True)), now))
    count = tx.execute("SELECT count(*) FROM directory WHERE active = 1").fetchone()[0]
    return {"entries": count}


def _cards_update(ctx: CommandContext) -> Callable[[Transaction, dict[str, Any]], dict[str, Any]]:
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


def _queued(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
    return {"queued": True}


def default_specs(ctx: CommandContext) -> dict[str, CommandSpec]:
    """The commands this gateway understands; services may add or replace entries."""
    return {
        "ping": CommandSpec(_ping(ctx)),
        "config.update": CommandSpec(_config_update(ctx)),
        "alert.ack": CommandSpec(_alert_ack(ctx)),
        "notice.show": CommandSpec(_notice_show),
        "notice.hide": CommandSpec(_notice_hide),
        "directory.update": CommandSpec(_directory_update),
        "cards.update": CommandSpec(_cards_update(ctx), keep_data=False),  # UIDs live only as keyed hashes
        "ticket.update": CommandSpec(_queued, consumer="kiosk"),
        "visitor.host_ack": CommandSpec(_queued, consumer="kiosk"),
        "evacuation.start": CommandSpec(_queued, consumer="kiosk"),
        "evacuation.end": CommandSpec(_queued, consumer="kiosk"),
    }


__all__ = ["CommandContext", "default_specs"]
