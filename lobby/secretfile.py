"""Per-site secrets kept in the state directory (mode 0600), made on first use.

Two services may start at once on a fresh Pi: each writes its candidate to a
private temporary file and hard-links it into place; the loser of the race
reads the winner's, so both end up with the same secret. The folder is fsynced before
the secret is used: without it a power cut can take the new name away (the data was
synced, the directory entry was not) and the next start would make another secret,
silently changing every card hash and patrol plan made with the first.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from mqtt_bridge.fsync import fsync_path


def load_or_create(path: str | os.PathLike[str], nbytes: int = 32) -> bytes:
    path = Path(path)
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_bytes(nbytes).hex())
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # fails if another process made it first: use theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    fsync_path(path.parent)  # the link (ours or the winner's) survives a power cut
    return bytes.fromhex(path.read_text().strip())
