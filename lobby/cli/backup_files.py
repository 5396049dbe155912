"""Backup files by name: `lobby-<UTC time>-s<seq>[-<n>].db`, and the prefix of a copy being written."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_NAME = re.compile(r"^lobby-(\d{8}T\d{6}Z)-s(\d+)(?:-(\d+))?\.db\Z", re.ASCII)
PARTIAL_PREFIX = ".lobby-backup-"


@dataclass(frozen=True)
class BackupFile:
    path: Path
    taken: str  # UTC time in the name
    seq: int  # the store's event counter when copied
    n: int  # tie-breaker within one second


def list_backups(folder: Path) -> list[BackupFile]:
    """The backups in `folder`, newest (highest seq, then time) first."""
    found = []
    try:
        entries = list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []
    for entry in entries:
        match = _NAME.match(entry.name)
        if match and entry.is_file():
            found.append(BackupFile(entry, match[1], int(match[2]), int(match[3] or 0)))
    return sorted(found, key=lambda b: (b.seq, b.taken, b.n), reverse=True)

