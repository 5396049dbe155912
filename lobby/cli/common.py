"""Helpers shared by subcommands: loading config with plain-words errors, logging."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import zoneinfo
from typing import TYPE_CHECKING

from lobby.config.probation import StartDecision
from lobby.logsetup import setup_logging

if TYPE_CHECKING:
    from lobby.config import Config


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    from lobby.cli import DEFAULT_CONFIG

    parser.add_argument("--config", "-c", default=DEFAULT_CONFIG, metavar="FILE",
                        help=f"configuration file (default {DEFAULT_CONFIG}, or $LOBBY_CONFIG)")


class CommandError(Exception):
    """Ends a subcommand with a plain message and an exit status."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def load_or_explain(args: argparse.Namespace, *, read_only: bool = False) -> "Config":
    """Load the config; on failure print every problem and exit with status 2.

    `read_only`: for the long-running services, which never validate anything else in
    their lifetime: the file is validated in a child and pydantic stays out of this
    process (lobby/config/readonly.py).
    """
    from lobby.config.errors import ConfigError
    from lobby.config.readonly import load_read_only

    try:
        if read_only:
            cfg = load_read_only(args.config)
        else:
            from lobby.config.loader import load_config
            cfg = load_config(args.config)
    except ConfigError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        raise SystemExit(2) from None
    setup_logging(args.log_level or cfg.logging.level)
    return cfg


def probation_at_start(args: argparse.Namespace) -> "StartDecision":
    """A service's first step: a pushed config on probation is counted, or put back if its time is up
    (lobby/config/probation.py). Runs before the config is loaded, so even a config that cannot be
    loaded any more is reverted."""
    from pathlib import Path

    from lobby.config import probation

    setup_logging(args.log_level or "INFO")
    try:
        return probation.at_start(Path(args.config))
    except OSError as exc:  # a read-only /etc/lobby: the config in force stays, nothing is reverted
        print(f"the probation record beside {args.config} cannot be written: {exc}", file=sys.stderr)
        return probation.StartDecision()


def day_argument(text: str) -> str:
    """argparse type for a site-local day: YYYY-MM-DD, "today" or "yesterday"."""
    if text in ("today", "yesterday"):
        return text
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day written as YYYY-MM-DD (or today/yesterday): {text!r}") from None
    return text


def resolve_day(text: str, timezone: str, now: dt.datetime | None = None) -> dt.date:
    """The date a day_argument names, "today" being the site's local date."""
    today = (now or dt.datetime.now(dt.timezone.utc)).astimezone(zoneinfo.ZoneInfo(timezone)).date()
    return {"today": today, "yesterday": today - dt.timedelta(days=1)}.get(text) or dt.date.fromisoformat(text)
