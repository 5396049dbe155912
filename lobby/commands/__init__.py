"""Every command this gateway understands, registered by the layer that owns its rules.

The bridge answers ping and alert.ack (mqtt_bridge.commands); the lobby adds the
configuration push, the site's data (notices, directory, cards) and the lobby's
own commands (tickets, visitors, invitations, evacuation), each applied inside
the intake's transaction; service.restart and system.reboot act once answered.
"""

from __future__ import annotations

from lobby.commands.config_update import config_update
from lobby.commands.context import CommandContext
from lobby.commands.lobby_rules import lobby_specs
from lobby.commands.site import cards_update, directory_update, notice_hide, notice_show
from lobby.commands.system import system_specs
from mqtt_bridge.clock import Clock
from mqtt_bridge.commands import CommandSpec, bridge_specs


def default_specs(ctx: CommandContext, clock: Clock | None = None) -> dict[str, CommandSpec]:
    """All commands: the bridge's, the site's and the lobby's."""
    specs = bridge_specs(ctx.alerts, lambda: {"config_version": ctx.cfg.version})
    specs.update({
        "config.update": CommandSpec(config_update(ctx)),
        "notice.show": CommandSpec(notice_show),
        "notice.hide": CommandSpec(notice_hide),
        "directory.update": CommandSpec(directory_update),
        "cards.update": CommandSpec(cards_update(ctx), keep_data=False),  # UIDs live only as keyed hashes
    })
    specs.update(lobby_specs(ctx, clock))
    specs.update(system_specs())  # service.restart, system.reboot: acted on once answered
    return specs


__all__ = ["CommandContext", "default_specs", "lobby_specs"]
