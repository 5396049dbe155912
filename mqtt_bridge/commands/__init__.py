"""Commands from central: intake (validation, idempotency, results) and handlers."""

from mqtt_bridge.commands.handlers import CommandContext, default_specs
from mqtt_bridge.commands.intake import CommandIntake, CommandRejected, CommandResult, CommandSpec, mark_done, pending

__all__ = ["CommandContext", "CommandIntake", "CommandRejected", "CommandResult", "CommandSpec",
           "default_specs", "mark_done", "pending"]
