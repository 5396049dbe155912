"""`lobby gateway`: the headless service (meters, patrol, buttons, health, the bridge)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lobby.cli.common import add_config_argument, load_or_explain, probation_at_start
from lobby.cli.service import limit_malloc_arenas, serve
from lobby.deferred_imports import defer_unused_by_services


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--simulate", action="store_true",
                        help="run against the simulators: meter buses and NFC readers on pseudo-terminals, mock GPIO")


def run(args: argparse.Namespace) -> int:
    limit_malloc_arenas()
    defer_unused_by_services()  # imported by paho-mqtt and pymodbus, used by neither here
    decision = probation_at_start(args)  # before the config is loaded: a pushed one may be put back first
    cfg = load_or_explain(args, read_only=True)  # before the modules that use the settings classes
    from lobby.gateway.assemble import build_gateway

    gateway = build_gateway(cfg, Path(args.config), simulate=args.simulate)
    gateway.runtime.start_decision = decision
    bridge = gateway.runtime.bridge
    return serve(gateway.start, gateway.stop, gateway.restart_requested, health=gateway.alive,
                 status=lambda: f"broker link {bridge.status.link} ({bridge.status.broker or 'no broker yet'})")
