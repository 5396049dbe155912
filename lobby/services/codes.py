"""Numbers people read out: no 0/O, 1/I/L; random, checked unique by the caller."""

from __future__ import annotations

import re
import secrets
import unicodedata

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # 31 symbols: no 0, 1, I, L, O
PASS_LENGTH = 5


def random_code(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def read_code(value: object, max_len: int = 64) -> str | None:
    """What a person typed or a scanner sent, folded to upper-case ASCII without separators.

    Returns None when it cannot be a code at all (wrong characters, empty, too long).
    """
    if not isinstance(value, str) or len(value) > max_len:
        return None
    text = unicodedata.normalize("NFKC", value).strip().upper()
    text = re.sub(r"[\s\-]", "", text)
    if not text or not re.fullmatch(r"[0-9A-Z_]+", text):
        return None
    return text


def is_code(text: str, length: int) -> bool:
    return len(text) == length and all(c in ALPHABET for c in text)
