"""The store: durable commits, gap-free seq across processes, migrations, kill safety."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mqtt_bridge.store import SCHEMA_VERSION, Lane, SchemaTooNewError, Store, StoreError
from mqtt_bridge.store import outbox
from mqtt_bridge.store.migrations import migrate

ROOT = Path(__file__).resolve().parents[2]


def _writer(db: Path, count: int, writer: str, report: bool = False) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "tests.helpers.store_writer", str(db), str(count), writer]
    if report:
        cmd.append("--report")
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)


def test_event_envelope_fields(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        record = store.emit("visitor", "visitor.checked_in", {"pass_no": "P1"})
        env = json.loads(record.payload(historical=False))
    assert env["seq"] == 1 and env["type"] == "visitor.checked_in"
    assert env["ts"].endswith("Z") and len(env["ts"]) == len("2026-01-01T00:00:00.000Z")
    assert env["historical"] is False and isinstance(env["clock_synced"], bool)
    assert env["data"] == {"pass_no": "P1"}
    assert env == record.envelope(historical=False)


def test_record_and_event_commit_together_or_not_at_all(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        with store.transaction() as tx:
            tx.db["test_records"].insert({"id": 1, "pass_no": "P1"}, pk="id")
            tx.emit("visitor", "visitor.checked_in", {"pass_no": "P1"})
        with pytest.raises(RuntimeError):
            with store.transaction() as tx:
                tx.db["test_records"].insert({"id": 2, "pass_no": "P2"})
                tx.emit("visitor", "visitor.checked_in", {"pass_no": "P2"})
                raise RuntimeError("screen crashed before commit")
        assert store.scalar("SELECT count(*) FROM test_records") == 1
        assert store.scalar("SELECT count(*) FROM outbox") == 1
        # The failed transaction did not consume a seq: the next event is 2, no gap.
        assert store.emit("visitor", "visitor.checked_out", {}).seq == 2


def test_nested_transactions_are_refused(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        with pytest.raises(StoreError, match="nested"):
            with store.transaction():
                with store.transaction():
                    pass


def test_pragmas_wal_and_full_sync(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        conn = store.connection()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_bulk_counters_follow_inserts_and_deletes(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        with store.transaction() as tx:
            records = outbox.append_events(tx.conn, [("meter", "meter.reading", {"v": i}) for i in range(10)])
        assert [r.seq for r in records] == list(range(1, 11))
        conn = store.connection()
        assert outbox.depth(conn)[Lane.BULK].rows == 10
        with store.transaction() as tx:
            outbox.delete(tx.conn, [r.seq for r in records[:4]])
        assert outbox.depth(conn)[Lane.BULK].rows == 6
        assert store.scalar("SELECT value FROM counters WHERE name='bulk_bytes'") == sum(
            len(r.data) for r in records[4:])


def test_fetch_respects_lanes_and_order(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        for i in range(6):
            store.emit("x", "x.y", {"i": i}, Lane.BULK if i % 2 else Lane.CRITICAL)
        conn = store.connection()
        assert [r.seq for r in outbox.fetch(conn, Lane.CRITICAL, 0, 10)] == [1, 3, 5]
        assert [r.seq for r in outbox.fetch(conn, Lane.BULK, 2, 10)] == [4, 6]


def test_two_processes_writing_at_once_give_gap_free_unique_seq(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    Store(db).close()
    procs = [_writer(db, 400, name) for name in ("kiosk", "gateway")]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    with Store(db) as store:
        seqs = [r["seq"] for r in store.query("SELECT seq FROM outbox ORDER BY seq")]
        writes = store.query("SELECT writer, n, seq FROM writes")
        assert store.integrity_check() == "ok"
    assert seqs == list(range(1, 801))  # gap-free and duplicate-free
    assert len(writes) == 800
    assert {w["writer"] for w in writes} == {"kiosk", "gateway"}
    # each domain row points at its own event
    assert sorted(w["seq"] for w in writes) == seqs


def test_sigkill_mid_stream_keeps_every_committed_event(tmp_path: Path) -> None:
    db = tmp_path / "killed.db"
    Store(db).close()
    acknowledged: list[int] = []
    for _round in range(3):
        proc = _writer(db, 1_000_000, "victim", report=True)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        target = len(acknowledged) + 150
        while len(acknowledged) < target:
            line = proc.stdout.readline()
            acknowledged.append(int(line))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # whatever was printed after a commit must survive; read the rest of the pipe too
        acknowledged.extend(int(line) for line in proc.stdout.read().split())
    with Store(db) as store:
        assert store.integrity_check() == "ok"
        present = {r["seq"] for r in store.query("SELECT seq FROM outbox")}
        seqs = sorted(present)
    assert set(acknowledged) <= present
    assert seqs == list(range(1, len(seqs) + 1))  # no gap even across kills


def _v1_file(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    migrate(conn, upto=1)
    conn.execute("BEGIN")
    outbox.append_event(conn, "meter", "meter.reading", {"kwh": 12.5}, Lane.BULK)
    outbox.append_event(conn, "alert", "alert.raised", {"key": "k"})
    conn.execute("COMMIT")
    conn.close()


def test_older_schema_file_migrates_in_place(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    _v1_file(db)
    with Store(db) as store:
        assert store.schema_version == SCHEMA_VERSION
        rows = store.query("SELECT seq, type FROM outbox ORDER BY seq")
        assert rows == [{"seq": 1, "type": "meter.reading"}, {"seq": 2, "type": "alert.raised"}]
        assert store.emit("x", "x.y", {}).seq == 3
        tables = {r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"commands", "alerts"} <= tables
        assert store.integrity_check() == "ok"


def test_two_processes_opening_an_old_file_migrate_once(tmp_path: Path) -> None:
    db = tmp_path / "old2.db"
    _v1_file(db)
    procs = [_writer(db, 20, name) for name in ("a", "b")]
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    with Store(db) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.scalar("SELECT count(*) FROM outbox") == 42


def test_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    Store(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(SchemaTooNewError, match="newer software"):
        Store(db)


def test_a_file_that_is_not_a_database_gives_a_store_error(tmp_path: Path) -> None:
    db = tmp_path / "junk.db"
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the store"):
        Store(db)


def test_busy_writer_waits_instead_of_failing(tmp_path: Path) -> None:
    db = tmp_path / "busy.db"
    with Store(db, busy_timeout_ms=10_000) as a, Store(db, busy_timeout_ms=10_000) as b:
        holder = a.connection()
        holder.execute("BEGIN IMMEDIATE")
        import threading

        def release() -> None:
            time.sleep(0.3)
            holder.execute("COMMIT")

        threading.Thread(target=release).start()
        assert b.emit("x", "x.y", {}).seq == 1  # waited for the lock, then committed
