"""``python -m drivers.gpio [--factory NAME]``: check that the GPIO pin factory loads.

Prints the factory in use, or the reason it cannot load (exit status 2), as one
line for the installer or operator rather than a traceback.
"""

from __future__ import annotations

import argparse
import sys

from drivers.gpio.factory import ENV_VAR, FACTORY_NAMES, PinFactoryError, make_pin_factory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drivers.gpio",
                                     description="Check that the GPIO pin factory loads.")
    parser.add_argument("--factory", choices=FACTORY_NAMES,
                        help=f"pin factory (default: ${ENV_VAR}, else lgpio)")
    args = parser.parse_args(argv)
    try:
        factory = make_pin_factory(args.factory)
    except PinFactoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        print(f"GPIO pin factory: {type(factory).__name__} loaded")
    finally:
        factory.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
