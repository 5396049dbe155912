"""`lobby hash-phone`: the watch-list form of a phone number, keyed with this site's key.

The number is read from the terminal without echo (or a line from a pipe) and
never printed; only the HMAC is, ready to paste into `[[visitors.watchlist]]`:

    $ lobby hash-phone --config /etc/lobby/lobby.toml
    Phone number: 
    phone_hmac = "3f9c..."

Run it as the service user on the Pi whose watch list it is: the key is that
Pi's `card-hash.key` in the state directory, so an entry made elsewhere never matches.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from lobby.cli.common import add_config_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--bare", action="store_true", help="print only the HMAC (no `phone_hmac = ` around it)")


def run(args: argparse.Namespace) -> int:
    from lobby.cardhash import load_key
    from lobby.services.messages import ValidationFailed
    from lobby.services.phone import normalise_phone, phone_hmac

    from lobby.config import ConfigError, load_config

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    if sys.stdin.isatty():
        raw = getpass.getpass("Phone number: ")
    else:
        print("Phone number: ", file=sys.stderr, flush=True)
        raw = sys.stdin.readline().strip()
    try:
        canonical = normalise_phone(raw, required=True)
    except ValidationFailed as exc:
        print(f"That is not a phone number this kiosk accepts ({exc.errors[0].en}); nothing was made.", file=sys.stderr)
        return 2
    assert canonical is not None
    digest = phone_hmac(load_key(cfg.state_dir), canonical)
    if args.bare:
        print(digest)
    else:
        print("# put this in the [[visitors.watchlist]] entry (only this Pi's key matches it):", file=sys.stderr)
        print(f'phone_hmac = "{digest}"')
    return 0
