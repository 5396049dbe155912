"""`lobby kiosk`: the touchscreen (Kivy) for visitors, guards and staff.

Full screen in production (kiosk.fullscreen = true): Escape and the window close
request are ignored, systemd restarts the app if it ever ends. `--simulate` runs
the kiosk's card readers on PN532 simulators and adds the on-screen simulator
panel; `--windowed` opens an 800x480 window (or --size) for development.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lobby.cli.common import add_config_argument, load_or_explain


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("size is WIDTHxHEIGHT, e.g. 800x480") from None
    if not (200 <= w <= 8000 and 200 <= h <= 8000):
        raise argparse.ArgumentTypeError("size out of range")
    return w, h


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--simulate", action="store_true",
                        help="card readers on PN532 simulators, the simulator panel on screen, a file printer")
    parser.add_argument("--windowed", action="store_true", help="a window instead of full screen (development)")
    parser.add_argument("--size", type=_size, default=None, metavar="WxH",
                        help="a borderless window of this size at the top left instead of full screen "
                             "(lockdown stays on unless --windowed)")
    parser.add_argument("--lang", choices=["zh", "en"], default=None, help="first language (default: site.language)")


def run(args: argparse.Namespace) -> int:
    # validated in a child, held as plain records: pydantic (about 10 MB) stays out of the
    # kiosk as it does out of the gateway (lobby/config/readonly.py)
    cfg = load_or_explain(args, read_only=True)
    from kiosk.main import run as run_kiosk

    return run_kiosk(cfg, Path(args.config), simulate=args.simulate, windowed=args.windowed, size=args.size,
                     lang=args.lang)
