"""Commands from central: intake (validation, idempotency, results) and the bridge's own handlers."""

from mqtt_bridge.commands.handlers import bridge_specs
from mqtt_bridge.commands.intake import CommandIntake, CommandRejected, CommandResult, CommandSpec, mark_done, pending

__all__ = ["CommandIntake", "CommandRejected", "CommandResult", "CommandSpec", "bridge_specs", "mark_done", "pending"]
