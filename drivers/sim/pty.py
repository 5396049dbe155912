"""Pseudo-terminal endpoints for the wire-level simulators.

A simulator owns the master side of a pty and publishes the slave side under a
stable symlink, because pty numbers change between runs and the real drivers
(libnfc, pyserial) are configured with a path. The simulator also keeps its own
descriptor on the slave open, so the master never sees EIO while a client closes
and reopens the port (libnfc does this on every scan).

Reopening at 8E1 (the parity quirk). A pty cannot hold a parity or a character
size: the kernel's pty_set_termios() clears PARENB and forces CS8 on every
tcsetattr, silently. Debian's glibc (hence Raspberry Pi OS too) guards
tcsetattr() against exactly that: it reads the termios back after TCSETS and,
if *no flag at all changed* while the caller asked for a PARENB or CSIZE the
line does not have, reports EINVAL. pyserial always calls tcsetattr on open
with PARENB for an "E" or "O" line, so the first open of a fresh pty succeeds
(the baud rate and the raw-mode flags change) and every later open of the same
pty fails with "Invalid argument", because the termios left by the first open
already matches in everything but the parity the pty cannot keep. Presetting
the slave cannot make it match (PARENB never sticks); instead the endpoint
*arms* the slave with ECHOKE, a flag pyserial (and libnfc) always clear on open
and that means nothing while ECHO and ICANON are off, and re-arms it each time
a client closes the slave (an inotify watch on the slave's node). Every open
then changes a flag, so glibc accepts it, exactly as on a real USB adapter.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import pty
import select
import termios
import threading
import tty
from pathlib import Path

log = logging.getLogger(__name__)

_IN_CLOSE_WRITE = 0x00000008
_IN_CLOSE_NOWRITE = 0x00000010
ARM_FLAG = termios.ECHOKE  # lflag: cleared by every client's open, harmless while ECHO/ICANON are off


def arm(fd: int) -> bool:
    """Set the arming flag on a pty slave (so the next client open changes a flag); True if it changed."""
    attrs = termios.tcgetattr(fd)
    if attrs[3] & ARM_FLAG:
        return False
    attrs[3] |= ARM_FLAG
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    return True


class _ReopenGuard:
    """Re-arms a pty slave whenever a client closes it (inotify IN_CLOSE on the slave's node)."""

    def __init__(self, slave_fd: int, slave_name: str) -> None:
        self._slave_fd = slave_fd
        libc = ctypes.CDLL(None, use_errno=True)
        self._inotify = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self._inotify < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        if libc.inotify_add_watch(self._inotify, slave_name.encode(), _IN_CLOSE_WRITE | _IN_CLOSE_NOWRITE) < 0:
            err = ctypes.get_errno()
            os.close(self._inotify)
            raise OSError(err, f"cannot watch {slave_name}")
        self._stop_r, self._stop_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._thread = threading.Thread(target=self._run, name=f"pty-rearm-{os.path.basename(slave_name)}",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self._inotify, self._stop_r], [], [])
            except (OSError, ValueError):
                return
            if self._stop_r in ready:
                return
            try:
                os.read(self._inotify, 4096)  # which close it was does not matter
            except BlockingIOError:
                continue
            except OSError:
                return
            try:
                arm(self._slave_fd)
            except termios.error as exc:  # the endpoint is closing
                log.debug("cannot re-arm pty: %s", exc)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._stop_w, b"x")
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)
        for fd in (self._inotify, self._stop_r, self._stop_w):
            with contextlib.suppress(OSError):
                os.close(fd)


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
        arm(self._slave_fd)
        self.slave_name = os.ttyname(self._slave_fd)
        self._guard: _ReopenGuard | None = None
        try:
            self._guard = _ReopenGuard(self._slave_fd, self.slave_name)
        except OSError as exc:  # no inotify: the first open at 8E1 still works, a reopen may not
            log.debug("pty %s: no reopen guard: %s", self.slave_name, exc)
        self.link.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.link.with_name(self.link.name + ".tmp")
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(self.slave_name, tmp)
        os.replace(tmp, self.link)  # atomic: a client never sees a missing link

    def fileno(self) -> int:
        return self.master_fd

    def close(self, remove_link: bool = True) -> None:
        guard, self._guard = self._guard, None
        if guard is not None:
            guard.stop()  # before the slave fd closes: its number must not be re-armed after reuse
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
