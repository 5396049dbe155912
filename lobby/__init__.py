"""The lobby: its rules, the gateway's services, the configuration and the `lobby` command.

Owns: the department's rules as plain Python (`services/`: visitors, invitations,
passes, tickets and SLA clocks, feedback, roll call, privacy), patrol (`patrol/`),
meter analysis (`meters/`), the gateway's components (`gateway/`: buttons, device
health, the scheduler), the commands central may send (`commands/`), the staff
dashboard, card taps, the validated TOML config (`config/`), the doctor, the demo,
and the CLI (`cli/`), which composes the processes.
May import: mqtt_bridge, drivers. Never kiosk, except lobby.cli.kiosk_cmd (it
launches the touchscreen). Enforced by the import-linter contract in pyproject.toml.
"""
