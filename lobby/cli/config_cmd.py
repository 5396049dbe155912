"""`lobby config check FILE`, `lobby config show FILE` and `lobby config reference`."""

from __future__ import annotations

import argparse
import json
import sys

from lobby.config import ConfigError, load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate a file: exit 0 if valid, 2 with one line per problem")
    check.add_argument("file")
    show = sub.add_parser("show", help="print the file with every default filled in, as JSON")
    show.add_argument("file")
    sub.add_parser("reference", help="print every key with its type, default, range and who may change it "
                                     "(docs/configuration.md), as Markdown")


def run(args: argparse.Namespace) -> int:
    if args.action == "reference":
        from lobby.config.reference import render

        sys.stdout.write(render())
        return 0
    try:
        cfg = load_config(args.file)
    except ConfigError as exc:
        for line in exc.lines():
            print(line)
        return 2
    if args.action == "check":
        print(f"{args.file}: valid (config version {cfg.version}, "
              f"{len(cfg.meters)} meters, {len(cfg.readers)} readers, {len(cfg.buttons)} buttons)")
        return 0
    data = cfg.model_dump(mode="json")
    if data["mqtt"].get("password"):
        data["mqtt"]["password"] = "***"
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0
