"""`lobby demo-scenario`: the scripted lobby day that `lobby demo` plays (runs until stopped)."""

from __future__ import annotations

import argparse
import signal
import threading

from lobby.cli.common import add_config_argument, load_or_explain


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)


def run(args: argparse.Namespace) -> int:
    from lobby.demo.scenario import play

    cfg = load_or_explain(args)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    play(cfg, stop, say=lambda line: print(line, flush=True))
    return 0
