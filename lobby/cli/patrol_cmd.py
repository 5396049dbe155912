"""`lobby patrol report DATE` and `lobby patrol import FILE`: the patrol engine from the command line.

report: one site-local day (YYYY-MM-DD, "today" or "yesterday") as a table, or --json.
import: a handheld wand's upload (CSV or JSON, see lobby/patrol/wand.py). Bad rows
are listed with their line numbers and left out; good rows are kept; importing the
same file again adds nothing. Exit status: 0 all rows imported (or already there),
1 some rows rejected, 2 the file or the store could not be used.
"""

from __future__ import annotations

import argparse
import json
import sys

from lobby.config import state_path
from mqtt_bridge.store import Store, StoreError
from lobby.cli.common import add_config_argument, day_argument, load_or_explain, resolve_day


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    report = sub.add_parser("report", help="one day's rounds, missed and late points, per guard")
    report.add_argument("day", type=day_argument, metavar="DATE", help="site-local day: YYYY-MM-DD, today or yesterday")
    report.add_argument("--json", action="store_true", help="print JSON for tooling")
    imp = sub.add_parser("import", help="import a patrol wand's upload (CSV or JSON)")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--wand", metavar="ID", help="the wand's id, for files without a wand column")
    imp.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from lobby.patrol import PatrolEngine, WandFileError

    cfg = load_or_explain(args)
    try:
        with Store(state_path(cfg, cfg.store.path), cfg.store.busy_timeout_ms) as store:
            engine = PatrolEngine(cfg, store)
            if args.action == "report":
                return _report(engine, args)
            return _import(engine, args, WandFileError)
    except StoreError as exc:
        print(f"patrol {args.action} failed: {exc}", file=sys.stderr)
        return 2


def _report(engine, args: argparse.Namespace) -> int:  # noqa: ANN001
    from lobby.patrol.report import format_table

    day = resolve_day(args.day, engine.cfg.site.timezone, engine.now().wall)
    report = engine.report(day)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        names = {g.id: g.name for g in engine.cfg.patrol.guards}
        print(format_table(report, names, {c.id: c.name for c in engine.cfg.patrol.checkpoints}))
    return 0


def _import(engine, args: argparse.Namespace, file_error: type[Exception]) -> int:  # noqa: ANN001
    try:
        result = engine.import_file(args.file, args.wand)
    except file_error as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"import_id": result.import_id, "file_sha256": result.file_sha256, "format": result.format,
                          "rows": result.rows, "accepted": result.accepted, "duplicates": result.duplicates,
                          "rejected": result.rejected, "statuses": result.statuses,
                          "problems": [{"line": line, "error": msg} for line, msg in result.problems]},
                         ensure_ascii=False, indent=2))
    else:
        print(f"{args.file}: {result.rows} rows, {result.accepted} imported, {result.duplicates} already imported, "
              f"{result.rejected} rejected")
        if result.statuses:
            print("  " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(result.statuses.items())))
        for line, message in result.problems:
            print(f"{args.file}:{line}: {message}" if line else f"{args.file}: {message}", file=sys.stderr)
    return 1 if result.rejected else 0
