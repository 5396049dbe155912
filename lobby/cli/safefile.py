"""Owner and mode of a file in a folder the lobby user owns, changed without following links.

`sudo lobby backup` / `lobby restore` run as root and write into folders the
lobby user can change. A chmod/chown by path after os.replace would follow a
symlink the lobby user put there meanwhile (and hand /etc/shadow to it), so the
file is opened with O_NOFOLLOW and changed through its descriptor.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


class UnsafePath(OSError):
    """The path is a symlink (or not a regular file): nothing was changed."""


def secure(path: Path, mode: int = 0o600, owner_of: Path | None = None) -> None:
    """fchmod the file to `mode` and, as root, fchown it to `owner_of`'s owner, never through a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UnsafePath(f"{path.name} is a symlink or cannot be opened ({exc.strerror}); its owner and mode "
                         "were not changed") from None
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafePath(f"{path.name} is not a regular file; its owner and mode were not changed")
        os.fchmod(fd, mode)
        if owner_of is not None and os.geteuid() == 0:
            folder = os.stat(owner_of, follow_symlinks=False)
            with contextlib.suppress(OSError):
                os.fchown(fd, folder.st_uid, folder.st_gid)
    finally:
        os.close(fd)
