"""The commands the bridge answers itself: ping and alert.ack.

The lobby registers its own commands (lobby.commands) beside these; the
intake only knows names, schemas and handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mqtt_bridge.alerts import AlertEngine
from mqtt_bridge.commands.intake import CommandRejected, CommandSpec
from mqtt_bridge.store import Transaction
from mqtt_bridge.timebase import BOOT_ID
from mqtt_bridge.version import VERSION


def _ping(describe: Callable[[], dict[str, Any]]) -> Callable[[Transaction, dict[str, Any]], dict[str, Any]]:
    def handle(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {"version": VERSION, "boot_id": BOOT_ID, **describe()}
        if "echo" in data:
            result["echo"] = data["echo"]
        return result
    return handle


def _alert_ack(alerts: AlertEngine) -> Callable[[Transaction, dict[str, Any]], dict[str, Any]]:
    def handle(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
        key = data["key"]
        exists = tx.execute("SELECT acked FROM alerts WHERE key = ?", (key,)).fetchone()
        if exists is None:
            raise CommandRejected(f"there is no alert with key {key!r}")
        changed = alerts.ack(key, data.get("by", "central"), tx=tx)
        return {"key": key, "already_acked": not changed}
    return handle


def bridge_specs(alerts: AlertEngine, describe: Callable[[], dict[str, Any]] = dict) -> dict[str, CommandSpec]:
    """ping (answered with the version, the boot id and what `describe()` adds) and alert.ack."""
    return {"ping": CommandSpec(_ping(describe)), "alert.ack": CommandSpec(_alert_ack(alerts))}


__all__ = ["bridge_specs"]
