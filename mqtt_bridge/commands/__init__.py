"""Commands from central: intake (validation, idempotency, results) and handlers."""

from .handlers import CommandContext, default_specs
from .intake import CommandIntake, CommandRejected, CommandResult, CommandSpec, mark_done, pending

__all__ = ["CommandContext", "CommandIntake", "CommandRejected", "CommandResult", "CommandSpec",
           "default_specs", "mark_done", "pending"]
