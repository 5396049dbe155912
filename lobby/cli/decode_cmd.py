"""`lobby decode dlt645|cjt188|modbus HEX`: decode a captured meter-bus frame."""

from __future__ import annotations

import argparse

PROTOCOLS = ("dlt645", "cjt188", "modbus")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("protocol", choices=PROTOCOLS)
    parser.add_argument("hex", nargs="+", help="the frame in hex; spaces between bytes are fine")


def run(args: argparse.Namespace) -> int:
    from drivers.meters.decode import main

    return main([args.protocol, *args.hex])
