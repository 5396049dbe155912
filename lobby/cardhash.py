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
from typing import Any

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


def sync_config_cards(store: Any, cfg: Any, key: bytes) -> None:
    """Mirror the local staff-card allowlist from the config into the cards table.

    Both services do it at start; it lives here, not in lobby.runtime, so that the
    kiosk does not import the MQTT bridge (paho, the publisher, the command intake) for it."""
    from mqtt_bridge.timebase import Stamp

    now = Stamp.now().ts
    with store.transaction() as tx:
        tx.execute("DELETE FROM cards WHERE source = 'config'")
        for uid in cfg.kiosk.staff_cards:
            tx.execute("INSERT OR IGNORE INTO cards (uid_hash, role, holder_id, active, source, updated_ts) "
                       "VALUES (?, 'staff', NULL, 1, 'config', ?)", (card_hash(key, uid), now))
