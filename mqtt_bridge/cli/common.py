"""Helpers shared by subcommands: loading config with plain-words errors, logging."""

from __future__ import annotations

import argparse
import sys

from ..config import Config, ConfigError, load_config
from ..logsetup import setup_logging


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    from . import DEFAULT_CONFIG

    parser.add_argument("--config", "-c", default=DEFAULT_CONFIG, metavar="FILE",
                        help=f"configuration file (default {DEFAULT_CONFIG}, or $LOBBY_CONFIG)")


class CommandError(Exception):
    """Ends a subcommand with a plain message and an exit status."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def load_or_explain(args: argparse.Namespace) -> Config:
    """Load the config; on failure print every problem and exit with status 2."""
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        raise SystemExit(2) from None
    setup_logging(args.log_level or cfg.logging.level)
    return cfg
