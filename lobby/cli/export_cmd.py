"""`lobby export --day YYYY-MM-DD`: that day's visitors, tickets and feedback as CSV for the lobby desk.

The files are UTF-8 with a BOM (Excel opens Chinese correctly), mode 0600
because they hold personal data; the default folder is privacy.export_dir in
the state directory.
"""

from __future__ import annotations

import argparse
import sys

from lobby.config import state_path
from mqtt_bridge.store import Store, StoreError
from lobby.cli.common import add_config_argument, day_argument, load_or_explain, resolve_day


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--day", type=day_argument, required=True, metavar="DAY",
                        help="the site-local day to export: YYYY-MM-DD, today or yesterday")
    parser.add_argument("--out", metavar="DIR", help="folder for the CSV files (default: privacy.export_dir)")


def run(args: argparse.Namespace) -> int:
    from lobby.services import LobbyServices

    from lobby.cardhash import load_key

    cfg = load_or_explain(args)
    out = args.out or str(state_path(cfg, cfg.privacy.export_dir))
    try:
        with Store(state_path(cfg, cfg.store.path), cfg.store.busy_timeout_ms) as store:
            services = LobbyServices(store, cfg, card_key=load_key(cfg.state_dir))
            paths = services.exporter.export_day(resolve_day(args.day, cfg.site.timezone), out)
    except (StoreError, OSError) as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0
