"""`lobby store info`: what the store holds, for installers and support."""

from __future__ import annotations

import argparse
import json

from lobby.config import state_path
from mqtt_bridge.store import SCHEMA_VERSION, Store
from mqtt_bridge.store.outbox import depth, last_seq
from lobby.cli.common import add_config_argument, load_or_explain


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = sub.add_parser("info", help="schema version, integrity check, outbox depth")
    info.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    cfg = load_or_explain(args)
    path = state_path(cfg, cfg.store.path)
    with Store(path, cfg.store.busy_timeout_ms) as store:
        conn = store.connection()
        lanes = depth(conn)
        info = {
            "path": str(path),
            "schema_version": store.schema_version,
            "software_schema_version": SCHEMA_VERSION,
            "integrity": store.integrity_check(),
            "last_seq": last_seq(conn),
            "outbox": {lane.name.lower(): d.rows for lane, d in lanes.items()},
        }
    if args.json:
        print(json.dumps(info))
    else:
        for key, value in info.items():
            print(f"{key:24} {value}")
    return 0 if info["integrity"] == "ok" else 1
