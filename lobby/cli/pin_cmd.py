"""`lobby pin-hash`: make the scrypt hash of a staff settings PIN for `security.staff_pin_hash`.

The PIN is asked twice without echo (or read as two lines from a pipe) and never
printed; only the hash is, ready to paste into the config:

    $ lobby pin-hash
    New PIN (4-12 digits):
    Repeat the PIN:
    staff_pin_hash = "scrypt$...$..."
"""

from __future__ import annotations

import argparse
import getpass
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bare", action="store_true", help="print only the hash (no `staff_pin_hash = ` around it)")


def _ask(prompt: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    print(prompt, file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.strip()


def run(args: argparse.Namespace) -> int:
    from lobby.services.pin import hash_pin, valid_pin

    try:
        first = _ask("New PIN (4-12 digits): ")
        if not valid_pin(first):
            print("A PIN is 4 to 12 digits (0-9); nothing was made.", file=sys.stderr)
            return 2
        second = _ask("Repeat the PIN: ")
    except EOFError:
        print("No PIN was given; nothing was made.", file=sys.stderr)
        return 2
    if first != second:
        print("The two PINs differ; nothing was made. Please run `lobby pin-hash` again.", file=sys.stderr)
        return 2
    digest = hash_pin(first)
    if args.bare:
        print(digest)
    else:
        print("# put this line in the [security] section of the config:", file=sys.stderr)
        print(f'staff_pin_hash = "{digest}"')
    return 0
