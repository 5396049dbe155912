"""`lobby backup` and `lobby restore` with a writer running in another process."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_helpers import REPO

from lobby.cli import main
from lobby.cli.backup_cmd import list_backups


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


class Writer:
    """tests/helpers/store_writer.py: commits events one by one and reports each seq."""

    def __init__(self, db: Path, count: int) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.helpers.store_writer", str(db), str(count), "w1",
                                      "--report"], stdout=subprocess.PIPE, text=True, cwd=REPO,
                                     env={**os.environ, "PYTHONPATH": str(REPO)})
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"
        self.last = 0

    def wait_seq(self, at_least: int) -> int:
        assert self.proc.stdout is not None
        while self.last < at_least:
            line = self.proc.stdout.readline()
            assert line, "the writer stopped"
            self.last = int(line)
        return self.last

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)  # a crash: what is committed is committed
        self.proc.wait()


def _writes(db: Path) -> list[tuple[int, int]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT n, seq FROM writes ORDER BY n").fetchall()
    finally:
        conn.close()


def _seq(db: Path) -> int:
    conn = sqlite3.connect(str(db))
    try:
        return int(conn.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
def config(tmp_path: Path, write_config) -> Path:  # noqa: ANN001 - the shared conftest factory
    return write_config(1883, extra="[store]\nbackup_keep = 3\n")


def test_backup_and_restore_round_trip_with_a_running_writer(tmp_path: Path, config: Path) -> None:
    db = tmp_path / "state" / "lobby.db"
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as fill:  # 8 MB, so the copy takes thousands of steps
        fill.execute("CREATE TABLE filler (b BLOB)")
        fill.executemany("INSERT INTO filler VALUES (randomblob(4000))", [()] * 2000)
    writer = Writer(db, 1_000_000)
    try:
        writer.wait_seq(300)
        status, out, err = _run("backup", "--config", str(config), "--json", "--pages", "4")
        assert status == 0, err
        report = json.loads(out)
        assert _seq(db) > report["seq"]  # the writer committed while the copy held its snapshot
        during = writer.last
        after = writer.wait_seq(during + 200)  # the writer went on while (and after) the copy ran
        copy = Path(report["path"])
        assert report["integrity"] == "ok" and copy.parent == tmp_path / "state" / "backups"
        assert oct(copy.stat().st_mode & 0o777) == "0o600"
        rows = _writes(copy)
        # one consistent snapshot: every write up to some point, nothing after it, nothing half-done
        assert [n for n, _ in rows] == list(range(len(rows))) and len(rows) >= 300
        assert _seq(copy) == report["seq"] == rows[-1][1]
        assert sqlite3.connect(copy).execute("PRAGMA journal_mode").fetchone()[0] == "delete"

        # the store is in use: restore refuses and says what to stop
        status, _, err = _run("restore", "--config", str(config), "--yes", str(copy))
        assert status == 3 and "in use" in err and "systemctl stop lobby-kiosk lobby-gateway" in err
    finally:
        writer.stop()

    live_rows = len(_writes(db))
    live_seq = _seq(db)
    assert live_rows > len(rows) and after > report["seq"]
    status, out, err = _run("restore", "--config", str(config), "--yes", "--json", str(copy))
    assert status == 0, err
    result = json.loads(out)
    assert _writes(db) == rows  # the store is now the backup ...
    assert _seq(db) == result["seq"] == live_seq  # ... and seq continues after the last one used
    previous = Path(result["previous"])
    assert len(_writes(previous)) == live_rows  # the replaced store is kept, whole
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    meta = dict(sqlite3.connect(db).execute("SELECT key, value FROM meta WHERE key LIKE 'restored%'").fetchall())
    assert meta["restored_from"] == copy.name


def test_keep_n_newest_and_never_touch_other_files(tmp_path: Path, config: Path) -> None:
    from mqtt_bridge.store import Store

    db = tmp_path / "state" / "lobby.db"
    with Store(db) as store:
        made = []
        for _ in range(5):
            store.emit("test", "test.write", {"n": 1})
            status, out, _ = _run("backup", "--config", str(config), "--json")
            assert status == 0
            made.append(json.loads(out)["path"])
    folder = tmp_path / "state" / "backups"
    (folder / "notes.txt").write_text("mine")
    status, out, _ = _run("backup", "--config", str(config), "--json", "--keep", "2")
    kept = [b.path for b in list_backups(folder)]
    assert status == 0 and len(kept) == 2 and kept[0] == Path(json.loads(out)["path"])
    assert kept[1] == Path(made[-1]) and (folder / "notes.txt").read_text() == "mine"


def test_a_damaged_backup_is_refused_and_nothing_changes(tmp_path: Path, config: Path) -> None:
    from mqtt_bridge.store import Store

    db = tmp_path / "state" / "lobby.db"
    Store(db).close()
    bad = tmp_path / "lobby-20260101T000000Z-s1.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    before = db.read_bytes()
    status, _, err = _run("restore", "--config", str(config), "--yes", str(bad))
    assert status != 0 and "restore refused" in err
    assert db.read_bytes() == before and not list(db.parent.glob("*.before-restore-*"))
    status, _, err = _run("restore", "--config", str(config), str(tmp_path / "missing.db"))
    assert status == 2 and "does not exist" in err


def test_backup_without_a_store_says_so(tmp_path: Path, config: Path) -> None:
    status, _, err = _run("backup", "--config", str(config))
    assert status == 1 and "no store" in err and "no old copy was removed" in err
