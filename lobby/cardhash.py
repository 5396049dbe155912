"""Card UIDs are kept only as keyed hashes.

A 4-byte UID hashed plainly could be recovered by trying all 2^32 values, so the
hash is an HMAC under a per-site key kept in the state directory (mode 0600,
made on first use). Both services on the Pi read the same key file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path

from lobby.secretfile import load_or_create

KEY_FILE = "card-hash.key"


def normalise_uid(uid: str) -> str:
    cleaned = re.sub(r"[\s:-]", "", uid).upper()
    if not re.fullmatch(r"[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20}", cleaned):
        raise ValueError("a card UID is 4, 7 or 10 bytes of hex")
    return cleaned


def load_key(state_dir: str | os.PathLike[str]) -> bytes:
    return load_or_create(Path(state_dir) / KEY_FILE)


def card_hash(key: bytes, uid: str) -> str:
    return hmac.new(key, normalise_uid(uid).encode(), hashlib.sha256).hexdigest()
