"""`lobby unit-failed UNIT`: record why a lobby unit died (run by lobby-failed@.service).

The record goes to `<state_dir>/unit-failures.json` (lobby/gateway/unit_failures.py)
and reaches central with the gateway's next health report. It must work when the
unit died of a broken config, so the config is only read for its state_dir:
--state-dir, else the config's, else $STATE_DIRECTORY (systemd's StateDirectory=),
else /var/lib/lobby.
"""

from __future__ import annotations

import argparse
import json
import os

from lobby.cli.common import add_config_argument
from lobby.gateway.unit_failures import properties_from_env, properties_from_systemctl, record_failure


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("unit", help="the unit that failed, e.g. lobby-gateway.service")
    parser.add_argument("--state-dir", default=None, help="where the record is written (default: the config's)")
    parser.add_argument("--property", "-p", action="append", default=[], metavar="KEY=VALUE",
                        help="a property as `systemctl show` names it (Result, ExecMainCode, ExecMainStatus, "
                             "NRestarts); given ones win over the environment and systemctl")


def _state_dir(args: argparse.Namespace) -> str:
    if args.state_dir:
        return str(args.state_dir)
    try:
        from lobby.config import load_config

        return load_config(args.config).state_dir
    except Exception:  # a broken config may be why the unit died: record it anyway
        return os.environ.get("STATE_DIRECTORY", "/var/lib/lobby").split(":")[0]


def run(args: argparse.Namespace) -> int:
    given: dict[str, str] = {}
    for item in args.property:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"--property wants KEY=VALUE, not {item!r}")
            return 2
        given[key] = value
    props = properties_from_env(os.environ)
    if not {"Result", "ExecMainStatus"} <= (props.keys() | given.keys()):
        props = {**properties_from_systemctl(args.unit), **props}
    props.update(given)
    record = record_failure(_state_dir(args), args.unit, props)
    print(json.dumps(record, ensure_ascii=False))
    return 0
