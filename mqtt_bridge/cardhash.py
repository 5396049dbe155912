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
import secrets
from pathlib import Path

KEY_FILE = "card-hash.key"


def normalise_uid(uid: str) -> str:
    cleaned = re.sub(r"[\s:-]", "", uid).upper()
    if not re.fullmatch(r"[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20}", cleaned):
        raise ValueError("a card UID is 4, 7 or 10 bytes of hex")
    return cleaned


def load_key(state_dir: str | os.PathLike[str]) -> bytes:
    path = Path(state_dir) / KEY_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key.hex())
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # fails if another process won the race: use theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return bytes.fromhex(path.read_text().strip())


def card_hash(key: bytes, uid: str) -> str:
    return hmac.new(key, normalise_uid(uid).encode(), hashlib.sha256).hexdigest()
