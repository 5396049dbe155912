"""config.update: central pushes a newer configuration file.

The new file is applied on probation (lobby/config/probation.py): the record is
opened before the file is replaced, the gateway restarts on it, and keeps it only
once it has reached the broker; otherwise the previous file comes back by itself
and central hears `config.reverted`. A version reverted here is refused if pushed
again, and so is a push while another one is still on probation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lobby.commands.context import CommandContext
from lobby.config import probation
from lobby.config.update import ConfigUpdateRejected, check_update, write_atomically
from mqtt_bridge.commands import CommandRejected
from mqtt_bridge.store import Transaction


def config_update(ctx: CommandContext) -> Callable[[Transaction, dict[str, Any]], dict[str, Any]]:
    def handle(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
        current = ctx.cfg.version
        if ctx.config_path is None:
            raise CommandRejected(f"this gateway runs without a config file; version {current} stays in force")
        try:
            refused = probation.refusal(ctx.config_path, data["version"])
            if refused:
                raise ConfigUpdateRejected(refused)
            new = check_update(ctx.cfg, ctx.config_path, data["version"], data["toml"])
            probation.begin(ctx.config_path, new.version, current, ctx.cfg.security.config_probation_s)
            write_atomically(ctx.config_path, data["toml"])
        except ConfigUpdateRejected as exc:
            raise CommandRejected(f"config version {data['version']} rejected, version {current} stays in force: {exc}") from None
        except OSError as exc:
            raise CommandRejected(f"cannot write the config file ({exc.strerror}); version {current} stays in force") from None
        tx.emit("health", "config.applied", {"version": new.version, "previous_version": current})
        ctx.cfg = new
        return {"version_in_force": new.version, "previous_version": current, "restarting": True}
    return handle
