"""`lobby bridge`: only the store-and-forward bridge (the gateway runs it too)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lobby.cli.common import add_config_argument, load_or_explain, probation_at_start
from lobby.cli.service import serve
from lobby.deferred_imports import defer_unused_by_services


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)


def run(args: argparse.Namespace) -> int:
    defer_unused_by_services()  # imported by paho-mqtt, used by it only with PySocks
    decision = probation_at_start(args)  # before the config is loaded: a pushed one may be put back first
    cfg = load_or_explain(args, read_only=True)  # before the modules that use the settings classes
    from lobby.runtime import Runtime

    runtime = Runtime(cfg, Path(args.config))
    runtime.start_decision = decision
    bridge = runtime.bridge
    return serve(runtime.start, runtime.stop, runtime.restart_requested,
                 status=lambda: f"broker link {bridge.status.link} ({bridge.status.broker or 'no broker yet'})")
