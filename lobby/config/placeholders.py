"""Sample or guessable staff credentials that must never guard a real lobby.

install.sh refuses to go on while the config holds one (`python -m
lobby.config.placeholders FILE`, run as the service user). A staff card from an
example file, or a PIN anyone would try first, opens visitors' personal data.
"""

from __future__ import annotations

import sys

from lobby.config.model import Config

# The card the example config once shipped, and UIDs people type as "any card".
SAMPLE_CARDS = frozenset({"5A3B9C01", "00000000", "FFFFFFFF", "DEADBEEF", "12345678", "01020304", "AABBCCDD"})
COMMON_PINS = ("0000", "1111", "1234", "4321", "2580", "8888", "9999", "12345", "000000", "111111", "123456",
               "654321", "888888", "666666", "246810", "123123", "112233", "121212")


def placeholders(cfg: Config) -> list[str]:
    """One plain line per sample card or guessable PIN in the config (never the PIN itself)."""
    from lobby.services.pin import verify_pin

    problems = [f"kiosk.staff_cards[{i}]: a sample or placeholder card; list this site's own staff cards"
                for i, uid in enumerate(cfg.kiosk.staff_cards) if uid in SAMPLE_CARDS]
    pin_hash = cfg.security.staff_pin_hash
    if pin_hash and any(verify_pin(pin, pin_hash) for pin in COMMON_PINS):
        problems.append("security.staff_pin_hash: the PIN is one anybody would try first; "
                        "choose another with `lobby pin-hash`")
    return problems


def main(argv: list[str]) -> int:
    from lobby.config import ConfigError, load_config

    if len(argv) != 1:
        print("usage: python -m lobby.config.placeholders FILE", file=sys.stderr)
        return 64
    try:
        cfg = load_config(argv[0])
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    problems = placeholders(cfg)
    for line in problems:
        print(f"{argv[0]}: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
