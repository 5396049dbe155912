"""The `lobby` command: one entry point, a subcommand per job.

Each subcommand lives in its own module and is imported only when used, so the
headless gateway never imports Kivy and `lobby --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from mqtt_bridge.version import VERSION

# name -> (module, one-line help); each module has add_arguments(parser) and run(args) -> int
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "config": ("config_cmd", "check or show a configuration file"),
    "store": ("store_cmd", "inspect the store: schema version, integrity, counts"),
    "gateway": ("gateway_cmd", "run the headless gateway service (meters, patrol, buttons, health, MQTT bridge)"),
    "bridge": ("bridge_cmd", "run only the MQTT store-and-forward bridge"),
    "demo": ("demo_cmd", "run the whole product on simulated hardware with a local broker"),
    "demo-scenario": ("demo_scenario_cmd", "play the demo's scripted lobby day against a running gateway"),
    "outbox": ("outbox_cmd", "what is waiting to go to central: depth per lane, oldest age, rates, last error"),
    "decode": ("decode_cmd", "decode a captured meter-bus frame (dlt645, cjt188, modbus) or say what is wrong with it"),
    "watch": ("watch_cmd", "print what central receives from this gateway; report seq gaps and duplicates"),
    "purge": ("purge_cmd", "delete personal data past its retention period (safe to run any time)"),
    "export": ("export_cmd", "write one day's visitors, tickets and feedback as CSV for the lobby desk"),
    "backup": ("backup_cmd", "copy the store while the services run (SQLite online backup), verify it, keep the newest N"),
    "restore": ("restore_cmd", "put a backup back as the store (stop the services first); the current file is kept aside"),
    "doctor": ("doctor_cmd", "check config, store, devices, broker, clock, disk and fonts; say in plain words what to fix"),
    "patrol": ("patrol_cmd", "patrol rounds: a day's report, or import a patrol wand's upload"),
    "kiosk": ("kiosk_cmd", "run the touchscreen kiosk (Kivy): visitors, feedback, complaints, guard taps, staff screen"),
    "hash-phone": ("hash_phone_cmd", "make a watch-list phone entry (phone_hmac, keyed with this site's key)"),
    "unit-failed": ("unit_failed_cmd", "record why a lobby unit died (run by lobby-failed@.service; the gateway reports it)"),
    "pin-hash": ("pin_cmd", "make the scrypt hash of a staff settings PIN (typed twice) for security.staff_pin_hash"),
}

DEFAULT_CONFIG = os.environ.get("LOBBY_CONFIG", "/etc/lobby/lobby.toml")


def _selected(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the first word that is one)."""
    return next((word for word in argv if word in SUBCOMMANDS), None)


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """Only the selected subcommand's module is imported: a broken or slow module
    elsewhere cannot break `lobby --help` or another subcommand."""
    parser = argparse.ArgumentParser(
        prog="lobby",
        description="Lobby kiosk and IoT gateway for property management.",
    )
    parser.add_argument("--version", action="version", version=f"lobby {VERSION}")
    parser.add_argument("--log-level", default=None, choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="override the configured log level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        sub_parser.set_defaults(_module=module_name)
        if name == selected:
            _module(module_name).add_arguments(sub_parser)
    return parser


def _module(name: str):  # noqa: ANN202 - a subcommand module
    return importlib.import_module(f"{__name__}.{name}")


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(_selected(words)).parse_args(words)
    try:
        return int(_module(args._module).run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `lobby watch | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
