"""A FUSE passthrough that loses what was not synced when the power is "cut" (like Jepsen's LazyFS).

    fs = LazyFS(backing, mountpoint).mount()
    ...                      # processes write below mountpoint
    fs.cut()                 # power cut: everything not fsynced is gone, the mount is dropped
    fs.mount()               # power back: the mount shows only what was durably written

The file system runs as its own process (``python tests/helpers/lazyfs.py BACKING MOUNT STATS``).
Regular files live in its memory: a write, a truncate, a create, a rename, a hard link and
an unlink change only the visible (in-memory) state. The backing directory holds only what
was made durable:

* ``fsync``/``fdatasync`` of a file writes its changed 4 KiB blocks and its size to its
  backing file and fsyncs that (a file whose name was never made durable gets an orphan
  backing file, outside the backing tree, that a later directory sync links into place);
* ``fsync`` of a directory makes its entries durable: every visible regular file of that
  directory is linked under its name (atomically, by rename in the backing directory),
  names no longer visible are unlinked, then the backing directory is fsynced. A file whose
  name is synced but whose data never was shows up empty (the ext4 "zero-length file").

A cut is a SIGKILL of the file-system process: the memory goes, and so does everything
not synced; the mount is then detached lazily. Mounting again rebuilds the visible state
from the backing directory and throws the orphans away.

Simplifications (documented, not needed by SQLite WAL or the product's writers): directories,
symlinks and special files (unix sockets) are written through at once, i.e. they are durable
as soon as they are made; renaming a directory is refused (EXDEV); times are not kept
durably. Counters (writes, bytes, fsyncs) go to the stats file twice a second and on exit.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

BLOCK = 4096


class _Node:
    _ids = itertools.count(1)

    def __init__(self, mode: int, durable: set[str] | None = None, data: bytearray | None = None) -> None:
        self.id = next(self._ids)
        self.mode = mode
        self.durable: set[str] = durable or set()  # backing paths (hard links of one backing inode)
        self._data = data
        self.dirty: set[int] = set()  # blocks changed since the last fsync
        self.size_dirty = False
        self.mtime = time.time()

    @property
    def data(self) -> bytearray:
        if self._data is None:
            src = next(iter(self.durable), None)
            self._data = bytearray(Path(src).read_bytes()) if src else bytearray()
        return self._data

    def mark(self, start: int, end: int) -> None:
        self.dirty.update(range(start // BLOCK, (end + BLOCK - 1) // BLOCK))
        self.mtime = time.time()


class LazyOps:
    """The file system's operations (mfusepy.Operations is mixed in by `serve`)."""

    use_ns = True  # utimens gets nanoseconds

    def __init__(self, backing: Path, orphans: Path) -> None:
        self.root = Path(backing).resolve()
        self.orphans = Path(orphans).resolve()
        shutil.rmtree(self.orphans, ignore_errors=True)  # names never synced: gone with the power
        self.orphans.mkdir(parents=True)
        self.mutex = threading.RLock()
        self.files: dict[str, _Node] = {}  # visible path ("/a/b") -> node
        self.owner: dict[str, _Node] = {}  # durable backing path -> node
        self.fhs: dict[int, _Node] = {}
        self.next_fh = itertools.count(1)
        self.stats = {"writes": 0, "bytes_written": 0, "fsyncs": 0, "fdatasyncs": 0, "dir_fsyncs": 0,
                      "bytes_synced": 0, "truncates": 0, "renames": 0, "unlinks": 0}
        by_inode: dict[tuple[int, int], _Node] = {}
        for dirpath, _dirs, names in os.walk(self.root):
            for name in names:
                full = os.path.join(dirpath, name)
                if name.startswith(".lazyfs-link-"):  # cut between a link and its rename
                    os.unlink(full)
                    continue
                st = os.lstat(full)
                if not stat.S_ISREG(st.st_mode):
                    continue
                node = by_inode.setdefault((st.st_dev, st.st_ino), _Node(stat.S_IMODE(st.st_mode)))
                node.durable.add(full)
                self.owner[full] = node
                self.files["/" + os.path.relpath(full, self.root)] = node

    # ------------------------------------------------------------------ helpers

    def _real(self, path: str) -> str:
        return os.path.join(str(self.root), path.lstrip("/"))

    @staticmethod
    def _err(code: int) -> OSError:
        return OSError(code, os.strerror(code))

    def _node(self, path: str | None, fh: int | None = None) -> _Node:
        if fh and fh in self.fhs:
            return self.fhs[fh]
        node = self.files.get(path or "")
        if node is None:
            raise self._err(errno.ENOENT)
        return node

    def _parent_ok(self, path: str) -> None:
        if not os.path.isdir(self._real(os.path.dirname(path))):
            raise self._err(errno.ENOENT)

    def _sync_file(self, node: _Node) -> None:
        if not node.durable:
            orphan = str(self.orphans / f"n{node.id}")
            fd = os.open(orphan, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, node.mode)
            os.close(fd)
            node.durable.add(orphan)
            node.dirty = set(range((len(node.data) + BLOCK - 1) // BLOCK))
            node.size_dirty = True
        if not node.dirty and not node.size_dirty:
            return
        data = node.data
        fd = os.open(next(iter(node.durable)), os.O_WRONLY)
        try:
            for block in sorted(node.dirty):
                chunk = bytes(data[block * BLOCK:(block + 1) * BLOCK])
                if chunk:
                    os.pwrite(fd, chunk, block * BLOCK)
                    self.stats["bytes_synced"] += len(chunk)
            os.ftruncate(fd, len(data))
            os.fsync(fd)
        finally:
            os.close(fd)
        node.dirty.clear()
        node.size_dirty = False

    def _sync_dir(self, path: str) -> None:
        real_dir = self._real(path)
        prefix = path.rstrip("/") + "/"
        visible = {p[len(prefix):]: n for p, n in self.files.items()
                   if p.startswith(prefix) and "/" not in p[len(prefix):]}
        for name, node in visible.items():
            dst = os.path.join(real_dir, name)
            if self.owner.get(dst) is node:
                continue
            if not node.durable:  # the name becomes durable, the data never was: an empty file
                orphan = str(self.orphans / f"n{node.id}")
                os.close(os.open(orphan, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, node.mode))
                node.durable.add(orphan)
                node.dirty = set(range((len(node.data) + BLOCK - 1) // BLOCK))
                node.size_dirty = True
            tmp = os.path.join(real_dir, f".lazyfs-link-{node.id}")
            os.link(next(iter(node.durable)), tmp)
            os.rename(tmp, dst)
            old = self.owner.get(dst)
            if old is not None:
                old.durable.discard(dst)
            self.owner[dst] = node
            node.durable.add(dst)
        for name in os.listdir(real_dir):
            dst = os.path.join(real_dir, name)
            if name not in visible and dst in self.owner:
                self.owner.pop(dst).durable.discard(dst)
                os.unlink(dst)
        fd = os.open(real_dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ attributes

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        with self.mutex:
            node = self.fhs.get(fh) if fh else None
            node = node or self.files.get(path)
            if node is not None:
                links = sum(1 for n in self.files.values() if n is node)
                return {"st_mode": stat.S_IFREG | node.mode, "st_nlink": max(links, 1), "st_size": len(node.data),
                        "st_uid": os.getuid(), "st_gid": os.getgid(), "st_mtime": node.mtime,
                        "st_ctime": node.mtime, "st_atime": node.mtime, "st_blocks": (len(node.data) + 511) // 512}
            try:
                st = os.lstat(self._real(path))
            except FileNotFoundError:
                raise self._err(errno.ENOENT) from None
            if stat.S_ISREG(st.st_mode):  # a durable name no longer visible (unlinked, not yet synced)
                raise self._err(errno.ENOENT)
            return {k: getattr(st, k) for k in ("st_mode", "st_nlink", "st_size", "st_uid", "st_gid",
                                                 "st_atime", "st_mtime", "st_ctime")}

    def chmod(self, path: str, mode: int) -> int:
        with self.mutex:
            if path in self.files:
                self.files[path].mode = stat.S_IMODE(mode)
                return 0
            os.chmod(self._real(path), mode, follow_symlinks=False)
            return 0

    def chown(self, path: str, uid: int, gid: int) -> int:
        with self.mutex:
            if path not in self.files:
                os.chown(self._real(path), uid, gid, follow_symlinks=False)
            return 0

    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        with self.mutex:
            if path in self.files:
                self.files[path].mtime = times[1] / 1e9 if times else time.time()
            else:
                os.utime(self._real(path), ns=times, follow_symlinks=False)
            return 0

    def statfs(self, path: str) -> dict[str, int]:
        st = os.statvfs(self.root)
        return {k: getattr(st, k) for k in ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail",
                                             "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")}

    # ------------------------------------------------------------------ directories (written through)

    def readdir(self, path: str, fh: int) -> list[str]:
        with self.mutex:
            real = self._real(path)
            names = {n for n in os.listdir(real) if not stat.S_ISREG(os.lstat(os.path.join(real, n)).st_mode)}
            prefix = path.rstrip("/") + "/"
            names.update(p[len(prefix):] for p in self.files if p.startswith(prefix) and "/" not in p[len(prefix):])
            return [".", "..", *sorted(names)]

    def mkdir(self, path: str, mode: int) -> int:
        os.mkdir(self._real(path), mode)
        return 0

    def rmdir(self, path: str) -> int:
        with self.mutex:
            prefix = path.rstrip("/") + "/"
            if any(p.startswith(prefix) for p in self.files):
                raise self._err(errno.ENOTEMPTY)
            real = self._real(path)
            for name in os.listdir(real):  # durable names of files already unlinked
                full = os.path.join(real, name)
                if full in self.owner:
                    self.owner.pop(full).durable.discard(full)
                    os.unlink(full)
            os.rmdir(real)
            return 0

    def fsyncdir(self, path: str, datasync: int, fh: int) -> int:
        with self.mutex:
            self.stats["dir_fsyncs"] += 1
            self._sync_dir(path)
            return 0

    def symlink(self, target: str, source: str) -> int:
        os.symlink(source, self._real(target))
        return 0

    def readlink(self, path: str) -> str:
        return os.readlink(self._real(path))

    def mknod(self, path: str, mode: int, dev: int) -> int:
        os.mknod(self._real(path), mode, dev)
        return 0

    # ------------------------------------------------------------------ names (in memory until a directory sync)

    def create(self, path: str, mode: int, fi: Any = None) -> int:
        with self.mutex:
            self._parent_ok(path)
            node = _Node(stat.S_IMODE(mode), data=bytearray())
            self.files[path] = node
            fh = next(self.next_fh)
            self.fhs[fh] = node
            return fh

    def open(self, path: str, flags: int) -> int:
        with self.mutex:
            node = self._node(path)
            fh = next(self.next_fh)
            self.fhs[fh] = node
            return fh

    def release(self, path: str, fh: int) -> int:
        with self.mutex:
            self.fhs.pop(fh, None)
            return 0

    def unlink(self, path: str) -> int:
        with self.mutex:
            if self.files.pop(path, None) is None:
                real = self._real(path)
                if os.path.lexists(real) and not os.path.isdir(real):
                    os.unlink(real)  # a symlink or a socket: written through
                    return 0
                raise self._err(errno.ENOENT)
            self.stats["unlinks"] += 1
            return 0

    def rename(self, old: str, new: str) -> int:
        with self.mutex:
            if old not in self.files:
                real = self._real(old)
                if os.path.isdir(real) and not os.path.islink(real):
                    raise self._err(errno.EXDEV)  # not modelled: callers fall back or fail loudly
                os.rename(real, self._real(new))
                return 0
            self._parent_ok(new)
            self.files[new] = self.files.pop(old)
            self.stats["renames"] += 1
            return 0

    def link(self, target: str, source: str) -> int:
        with self.mutex:
            if target in self.files:
                raise self._err(errno.EEXIST)
            self._parent_ok(target)
            self.files[target] = self._node(source)
            return 0

    # ------------------------------------------------------------------ data (in memory until an fsync)

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        with self.mutex:
            return bytes(self._node(path, fh).data[offset:offset + size])

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        with self.mutex:
            node = self._node(path, fh)
            buf = node.data
            if offset > len(buf):
                buf.extend(b"\0" * (offset - len(buf)))
                node.size_dirty = True
            end = offset + len(data)
            if end > len(buf):
                node.size_dirty = True
            buf[offset:end] = data
            node.mark(offset, end)
            self.stats["writes"] += 1
            self.stats["bytes_written"] += len(data)
            return len(data)

    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        with self.mutex:
            node = self._node(path, fh)
            buf = node.data
            if length < len(buf):
                del buf[length:]
            else:
                buf.extend(b"\0" * (length - len(buf)))
            node.size_dirty = True
            node.mark(min(length, len(buf)), len(buf))
            self.stats["truncates"] += 1
            return 0

    def flush(self, path: str, fh: int) -> int:
        return 0

    def fsync(self, path: str, datasync: int, fh: int) -> int:
        with self.mutex:
            self.stats["fdatasyncs" if datasync else "fsyncs"] += 1
            self._sync_file(self._node(path, fh))
            return 0


def serve(backing: str, mountpoint: str, stats_path: str) -> None:
    import mfusepy

    class Ops(LazyOps, mfusepy.Operations):
        pass

    ops = Ops(Path(backing), Path(str(backing).rstrip("/") + ".orphans"))

    def dump() -> None:
        with ops.mutex:
            text = json.dumps(ops.stats)
        tmp = stats_path + ".tmp"
        Path(tmp).write_text(text)
        os.replace(tmp, stats_path)

    def loop() -> None:
        while True:
            time.sleep(0.5)
            dump()

    threading.Thread(target=loop, daemon=True).start()
    try:
        mfusepy.FUSE(ops, mountpoint, foreground=True, nothreads=True, fsname="lazyfs",
                     hard_remove=True)  # no .fuse_hidden names for files unlinked while open
    finally:
        dump()


# ---------------------------------------------------------------------- the test side


def unavailable() -> str | None:
    """Why LazyFS cannot run here, or None."""
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse on this machine"
    if os.geteuid() != 0:
        return "mounting FUSE needs root here"
    try:
        import mfusepy  # noqa: F401
    except (ImportError, OSError, EnvironmentError) as exc:  # no module, or no libfuse to load
        return f"mfusepy or libfuse is not available: {exc}"
    return None


class LazyFS:
    """Mount, cut and remount the file system over `backing` at `mountpoint`."""

    def __init__(self, backing: Path, mountpoint: Path, log: Path | None = None) -> None:
        self.backing = Path(backing)
        self.mountpoint = Path(mountpoint)
        self.stats_path = Path(str(self.backing) + ".stats.json")
        self.log = log or Path(str(self.backing) + ".log")
        self.proc: subprocess.Popen[bytes] | None = None
        self.cuts = 0
        self.totals: dict[str, int] = {}

    def mount(self, timeout: float = 15) -> "LazyFS":
        self.backing.mkdir(parents=True, exist_ok=True)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        self.stats_path.unlink(missing_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, __file__, str(self.backing), str(self.mountpoint),
                                          str(self.stats_path)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while not os.path.ismount(self.mountpoint):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"lazyfs did not mount (see {self.log})")
            time.sleep(0.02)
        return self

    def stats(self) -> dict[str, int]:
        """This mount's counters so far (up to half a second old)."""
        try:
            return json.loads(self.stats_path.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def _add_totals(self) -> None:
        for key, value in self.stats().items():
            self.totals[key] = self.totals.get(key, 0) + value

    def cut(self) -> None:
        """Power cut: the file system dies with everything not synced; the mount is detached."""
        if self.proc is not None and self.proc.poll() is None:
            time.sleep(0.6)  # the counters are dumped twice a second (only counters: nothing gets synced)
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._add_totals()
        self.proc = None
        self.cuts += 1
        subprocess.run(["umount", "-l", str(self.mountpoint)], capture_output=True)

    def unmount(self) -> None:
        """A clean unmount (nothing is synced by it: data not fsynced is dropped just the same)."""
        if self.proc is None:
            return
        if subprocess.run(["umount", str(self.mountpoint)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(self.mountpoint)], capture_output=True)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._add_totals()
        self.proc = None


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], sys.argv[3])
