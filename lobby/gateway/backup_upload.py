"""Backups to central (`[store] backup_target = "central"`): the nightly copy goes up in chunks.

`lobby backup` makes the copy on the card as always, then registers it here
(:func:`register_upload`: one row in the store's ``meta`` table, key ``backup_upload``,
with the file, its size, sha256 and chunk count). The gateway's :class:`BackupUploader`
then turns the file into ``backup.chunk`` events on the bulk lane, a window of chunks
at a time, and a ``backup.done`` event after the last one.

Why through the outbox: each window of chunk rows and the record of how far the upload
got are written in one store transaction, and the outbox sends rows until the broker
acknowledges them. A power cut, a killed gateway or a lost link therefore resume the
upload where it stood (chunks in flight are sent again; central keeps one per index),
never from the start. The next window is queued only once the last chunk of the previous
one has left the outbox, so an upload holds at most WINDOW chunks (about 0.6 MB) in the
store and never pushes meter readings past the bulk budget.

Each chunk carries the backup id, its index, the count, the sha256 of the whole file and
of the chunk, and CHUNK_BYTES of the file in base64 (48 KiB of text: with its envelope one
chunk stays under the default batch size, mqtt.batch.max_bytes = 64 KiB). Central puts
the chunks in index order and checks the whole file's sha256 before it keeps the copy.

Not encrypted by the gateway: the copy holds personal data (visitors, ticket contacts)
and travels only over the broker link, which must be TLS (mqtt.tls, on by default);
central stores it as personal data. A newer registration replaces an unfinished one
(central discards a backup id that never got its ``backup.done``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import re
from pathlib import Path
from typing import Any

from mqtt_bridge.store import Lane, Store, outbox

log = logging.getLogger(__name__)

META_KEY = "backup_upload"
CHUNK_BYTES = 36 * 1024  # 48 KiB once in base64
WINDOW = 16  # chunks queued at a time
TICK_S = 1.0
_ID = re.compile(r"^lobby-\d{8}T\d{6}Z-s\d+(?:-\d+)?\Z", re.ASCII)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def register_upload(store: Store, backup: Path) -> dict[str, Any]:
    """Queue `backup` (a verified copy, lobby-<time>-s<seq>.db) for upload; replaces an unfinished one."""
    backup_id = backup.name.removesuffix(".db")
    if not _ID.match(backup_id):
        raise ValueError(f"{backup.name} is not a backup file name")
    size = backup.stat().st_size
    record = {"backup_id": backup_id, "file": str(backup.resolve()), "size": size, "sha256": file_sha256(backup),
              "count": max(1, math.ceil(size / CHUNK_BYTES)), "next": 0, "last_seq": 0, "state": "uploading"}
    store.set_meta(META_KEY, json.dumps(record, sort_keys=True))
    return record


def upload_state(store: Store) -> dict[str, Any] | None:
    text = store.get_meta(META_KEY)
    return json.loads(text) if text else None


class BackupUploader:
    """The gateway's side: one window of chunks per tick, resumable from the store."""

    def __init__(self, store: Store, window: int = WINDOW) -> None:
        self.store = store
        self.window = max(1, window)

    def tick(self) -> int:
        """Queue the next window if the previous one has left the outbox; returns the chunks queued."""
        record = upload_state(self.store)
        if record is None or record["state"] != "uploading":
            return 0
        if record["last_seq"] and self.store.scalar("SELECT 1 FROM outbox WHERE seq = ?", (record["last_seq"],)):
            return 0  # the previous window is still on its way
        first, last = record["next"], min(record["next"] + self.window, record["count"])
        try:
            events = self._chunks(record, first, last)
        except OSError as exc:  # the copy was rotated away or the card failed: give this one up
            log.warning("backup upload %s given up: the copy cannot be read (%s)", record["backup_id"],
                        exc.strerror or exc)
            self._save(record, state="abandoned")
            return 0
        done = last >= record["count"]
        if done:
            events.append(("backup", "backup.done", {"backup_id": record["backup_id"], "count": record["count"],
                                                     "size": record["size"], "sha256": record["sha256"]}))
        with self.store.transaction() as tx:
            current = tx.execute("SELECT value FROM meta WHERE key = ?", (META_KEY,)).fetchone()
            if current is None or json.loads(current[0]) != record:
                return 0  # `lobby backup` registered a newer copy meanwhile
            records = outbox.append_events(tx.conn, events, Lane.BULK)
            updated = {**record, "next": last, "last_seq": records[-1].seq, "state": "sent" if done else "uploading"}
            tx.execute("UPDATE meta SET value = ? WHERE key = ?", (json.dumps(updated, sort_keys=True), META_KEY))
        if done:
            log.info("backup upload %s queued in full (%d chunks)", record["backup_id"], record["count"])
        return last - first

    def _chunks(self, record: dict[str, Any], first: int, last: int) -> list[tuple[str, str, dict[str, Any]]]:
        events = []
        with open(record["file"], "rb") as handle:
            if handle.seek(0, 2) != record["size"]:
                raise OSError(0, "the file changed size since it was registered")
            handle.seek(first * CHUNK_BYTES)
            for index in range(first, last):
                chunk = handle.read(CHUNK_BYTES)
                events.append(("backup", "backup.chunk", {
                    "backup_id": record["backup_id"], "index": index, "count": record["count"],
                    "size": record["size"], "sha256": record["sha256"],
                    "chunk_sha256": hashlib.sha256(chunk).hexdigest(),
                    "data": base64.b64encode(chunk).decode("ascii")}))
        return events

    def _save(self, record: dict[str, Any], **changes: Any) -> None:
        self.store.set_meta(META_KEY, json.dumps({**record, **changes}, sort_keys=True))
