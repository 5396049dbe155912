"""Pseudo-terminal endpoints for the wire-level simulators.

A simulator owns the master side of a pty and publishes the slave side under a
stable symlink, because pty numbers change between runs and the real drivers
(libnfc, pyserial) are configured with a path. The simulator also keeps its own
descriptor on the slave open, so the master never sees EIO while a client closes
and reopens the port (libnfc does this on every scan).
"""

from __future__ import annotations

import os
import pty
import termios
import tty
from pathlib import Path


class PtyEndpoint:
    """The master side of a pseudo-terminal with a symlink to its slave."""

    def __init__(self, link: str | os.PathLike[str]) -> None:
        self.link = Path(link)
        self.master_fd, self._slave_fd = pty.openpty()
        tty.setraw(self.master_fd)
        tty.setraw(self._slave_fd)
        attrs = termios.tcgetattr(self._slave_fd)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(self._slave_fd, termios.TCSANOW, attrs)
        self.slave_name = os.ttyname(self._slave_fd)
        self.link.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.link.with_name(self.link.name + ".tmp")
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(self.slave_name, tmp)
        os.replace(tmp, self.link)  # atomic: a client never sees a missing link

    def fileno(self) -> int:
        return self.master_fd

    def close(self, remove_link: bool = True) -> None:
        for fd in (self.master_fd, self._slave_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        if remove_link:
            try:
                if self.link.is_symlink() and os.readlink(self.link) == self.slave_name:
                    self.link.unlink()
            except OSError:
                pass

    def __enter__(self) -> "PtyEndpoint":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
