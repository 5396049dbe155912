"""`lobby purge`: delete personal data past its retention period (a systemd timer runs it daily).

Safe to run at any time and as often as wanted: a second run finds nothing to do.
Prints counts only, never what was deleted.
"""

from __future__ import annotations

import argparse
import json
import sys

from lobby.config import state_path
from mqtt_bridge.store import Store, StoreError
from lobby.cli.common import add_config_argument, load_or_explain


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--now", metavar="RFC3339",
                        help="purge as if it were this time (e.g. 2026-11-25T03:30:00+08:00); default: now")
    parser.add_argument("--json", action="store_true", help="print the counts as one JSON object")


def run(args: argparse.Namespace) -> int:
    import datetime as dt
    from dataclasses import replace

    from lobby.services import LobbyServices
    from mqtt_bridge.clock import Clock

    from lobby.cardhash import load_key

    cfg = load_or_explain(args)
    now = Clock().instant()
    if args.now:
        try:
            wall = dt.datetime.fromisoformat(args.now.replace("Z", "+00:00"))
        except ValueError:
            print(f"--now: not an RFC 3339 time: {args.now!r}", file=sys.stderr)
            return 2
        if wall.tzinfo is None:
            print("--now: give a time zone, e.g. 2026-11-25T03:30:00+08:00", file=sys.stderr)
            return 2
        now = replace(now, wall=wall.astimezone(dt.timezone.utc))
    try:
        with Store(state_path(cfg, cfg.store.path), cfg.store.busy_timeout_ms) as store:
            services = LobbyServices(store, cfg, card_key=load_key(cfg.state_dir))
            report = services.privacy.purge(now)
    except StoreError as exc:
        print(f"purge failed, nothing was changed: {exc}", file=sys.stderr)
        return 1
    counts = report.as_dict()
    if args.json:
        print(json.dumps(counts))
    else:
        for key, value in counts.items():
            print(f"{key:24} {value}")
    return 0
