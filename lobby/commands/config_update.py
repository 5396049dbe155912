"""config.update: central pushes a newer configuration file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lobby.commands.context import CommandContext
from lobby.config.update import ConfigUpdateRejected, check_update, write_atomically
from mqtt_bridge.commands import CommandRejected
from mqtt_bridge.store import Transaction


def config_update(ctx: CommandContext) -> Callable[[Transaction, dict[str, Any]], dict[str, Any]]:
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
