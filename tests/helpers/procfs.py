"""What /proc says about this test process."""

from __future__ import annotations

from pathlib import Path


def descriptors_on(path: Path) -> int:
    """Open descriptors of this process on the file `path` (one per SQLite connection on a database)."""
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            if Path(fd.readlink()) == path:
                count += 1
        except OSError:
            pass
    return count
