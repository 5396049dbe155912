"""The power-cut file system (tests/helpers/lazyfs.py) on its own: what survives a cut and what does not."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.lazyfs import LazyFS, unavailable

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=f"LazyFS cannot run: {unavailable()}")


@pytest.fixture
def lazy(tmp_path: Path) -> Iterator[tuple[LazyFS, Path]]:
    fs = LazyFS(tmp_path / "backing", tmp_path / "mnt").mount()
    try:
        yield fs, tmp_path / "mnt"
    finally:
        fs.unmount()


def _write(path: Path, data: bytes, *, sync: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def test_unsynced_write_vanishes_synced_write_survives(lazy: tuple[LazyFS, Path]) -> None:
    fs, mnt = lazy
    _write(mnt / "synced", b"kept", sync=True)
    _write(mnt / "unsynced", b"lost", sync=False)
    _sync_dir(mnt)  # both names durable; only one file's data
    assert (mnt / "unsynced").read_bytes() == b"lost"  # visible before the cut
    fd = os.open(mnt / "synced", os.O_WRONLY)
    os.pwrite(fd, b"XX", 1)  # a later write at an offset, never synced
    os.close(fd)
    assert (mnt / "synced").read_bytes() == b"kXXt"
    fs.cut()
    fs.mount()
    assert (mnt / "synced").read_bytes() == b"kept"
    assert (mnt / "unsynced").read_bytes() == b""  # the name was synced, the data never was


def test_pwrite_truncate_and_fdatasync(lazy: tuple[LazyFS, Path]) -> None:
    fs, mnt = lazy
    path = mnt / "f"
    _write(path, b"a" * 10000, sync=True)
    _sync_dir(mnt)
    fd = os.open(path, os.O_RDWR)
    os.pwrite(fd, b"b" * 100, 5000)
    os.ftruncate(fd, 6000)
    os.fdatasync(fd)
    os.ftruncate(fd, 10)  # not synced
    os.close(fd)
    assert path.stat().st_size == 10
    fs.cut()
    fs.mount()
    assert path.read_bytes() == b"a" * 5000 + b"b" * 100 + b"a" * 900
    assert fs.totals["fdatasyncs"] >= 1 and fs.totals["bytes_written"] >= 10100


def test_new_file_without_directory_sync_is_gone(lazy: tuple[LazyFS, Path]) -> None:
    fs, mnt = lazy
    _write(mnt / "fresh", b"data", sync=True)  # data synced, its name never was
    fs.cut()
    fs.mount()
    assert not (mnt / "fresh").exists()


def test_rename_without_directory_sync_rolls_back(lazy: tuple[LazyFS, Path]) -> None:
    fs, mnt = lazy
    _write(mnt / "config", b"old", sync=True)
    _sync_dir(mnt)
    _write(mnt / "config.tmp", b"new", sync=True)
    os.replace(mnt / "config.tmp", mnt / "config")
    assert (mnt / "config").read_bytes() == b"new"
    fs.cut()
    fs.mount()
    assert (mnt / "config").read_bytes() == b"old"
    assert not (mnt / "config.tmp").exists()
    # and with the directory synced the new one stays
    _write(mnt / "config.tmp", b"new", sync=True)
    os.replace(mnt / "config.tmp", mnt / "config")
    _sync_dir(mnt)
    fs.cut()
    fs.mount()
    assert (mnt / "config").read_bytes() == b"new"
    assert sorted(p.name for p in mnt.iterdir()) == ["config"]


def test_unlink_and_hard_link_are_durable_only_after_directory_sync(lazy: tuple[LazyFS, Path]) -> None:
    fs, mnt = lazy
    _write(mnt / "tmp", b"secret", sync=True)
    os.link(mnt / "tmp", mnt / "key")
    (mnt / "tmp").unlink()
    _write(mnt / "doomed", b"x", sync=True)
    _sync_dir(mnt)
    (mnt / "doomed").unlink()  # not synced: comes back
    fs.cut()
    fs.mount()
    assert (mnt / "key").read_bytes() == b"secret"
    assert not (mnt / "tmp").exists()
    assert (mnt / "doomed").read_bytes() == b"x"


def test_sqlite_wal_keeps_exactly_the_committed_transactions(lazy: tuple[LazyFS, Path]) -> None:
    fs, mnt = lazy
    sub = mnt / "state"
    sub.mkdir()
    conn = sqlite3.connect(sub / "t.db", isolation_level=None)
    assert conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (x)")
    for i in range(200):
        conn.execute("INSERT INTO t VALUES (?)", (i,))
    conn.execute("PRAGMA synchronous=OFF")
    for i in range(200, 300):  # committed, never synced: may be lost
        conn.execute("INSERT INTO t VALUES (?)", (i,))
    fs.cut()  # the connection's files are gone with the mount
    fs.mount()
    again = sqlite3.connect(sub / "t.db")
    assert again.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    count = again.execute("SELECT count(*) FROM t").fetchone()[0]
    assert 200 <= count <= 300
    assert [r[0] for r in again.execute("SELECT x FROM t ORDER BY x")] == list(range(count))
    again.close()
    conn.close()


def test_a_new_secret_survives_a_power_cut(lazy: tuple[LazyFS, Path]) -> None:
    """lobby/secretfile.py fsyncs the folder after linking the secret in (found by test_power_cut.py)."""
    from lobby.secretfile import load_or_create

    fs, mnt = lazy
    key = load_or_create(mnt / "site.key")
    fs.cut()
    fs.mount()
    assert (mnt / "site.key").exists() and load_or_create(mnt / "site.key") == key
    assert [p.name for p in mnt.iterdir()] == ["site.key"]
