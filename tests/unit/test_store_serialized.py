"""A serialized store handle: threads that take turns on one connection (Store.serialized).

The gateway's meter lines write through one such handle (lobby/gateway/meters.py). What must
hold: every commit of every thread lands exactly once with gap-free seq (alongside the
parent handle's threads and another process), a failing transaction frees the turn, a
nested transaction is refused rather than deadlocking, and the handle never opens a second
connection.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mqtt_bridge.store import Lane, Store, StoreError
from tests.helpers.procfs import descriptors_on

ROOT = Path(__file__).resolve().parents[2]


def test_threads_taking_turns_commit_everything_once_on_one_connection(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = Store(db)
    lines = store.serialized()
    errors: list[BaseException] = []
    threads_n, commits, per_commit = 8, 40, 3

    def line(n: int) -> None:
        try:
            for i in range(commits):
                with lines.transaction() as tx:
                    for j in range(per_commit):
                        tx.emit("meter", "meter.reading", {"line": n, "i": i, "j": j}, Lane.BULK)
                    tx.execute("CREATE TABLE IF NOT EXISTS cycles (line INTEGER, i INTEGER)")
                    tx.execute("INSERT INTO cycles VALUES (?, ?)", (n, i))
                assert lines.scalar("SELECT count(*) FROM cycles WHERE line = ?", (n,)) == i + 1
        except BaseException as exc:  # reported below
            errors.append(exc)

    def other_component() -> None:  # e.g. the patrol engine on the gateway's own handle
        for i in range(60):
            store.emit("patrol", "patrol.tap", {"i": i})

    other_process = subprocess.Popen([sys.executable, "-m", "tests.helpers.store_writer", str(db), "120", "kiosk"],
                                     cwd=ROOT, stdout=subprocess.DEVNULL)
    threads = [threading.Thread(target=line, args=(n,)) for n in range(threads_n)]
    threads.append(threading.Thread(target=other_component))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert other_process.wait(120) == 0
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)

    seqs = [r["seq"] for r in store.query("SELECT seq FROM outbox ORDER BY seq")]
    total = threads_n * commits * per_commit + 60 + 120
    assert seqs == list(range(1, total + 1))  # every commit once, gap-free, across handles and processes
    readings = store.query("SELECT data FROM outbox WHERE type = 'meter.reading'")
    assert len(readings) == threads_n * commits * per_commit
    assert store.scalar("SELECT count(DISTINCT line || ':' || i) FROM cycles") == threads_n * commits
    assert lines.connection_owners() == ["(shared)"]  # the serialized handle opened one connection for all its threads
    assert store.integrity_check() == "ok"
    lines.close()
    store.close()
    assert descriptors_on(db) == 0  # closing both handles closed every connection


def test_a_failed_transaction_gives_the_turn_back_and_consumes_no_seq(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store, store.serialized() as lines:
        with pytest.raises(RuntimeError):
            with lines.transaction() as tx:
                tx.emit("meter", "meter.reading", {"n": 1}, Lane.BULK)
                raise RuntimeError("a decoder bug mid-cycle")
        done = threading.Event()

        def next_line() -> None:
            with lines.transaction() as tx:
                tx.emit("meter", "meter.reading", {"n": 2}, Lane.BULK)
            done.set()

        thread = threading.Thread(target=next_line)
        thread.start()
        thread.join(10)
        assert done.is_set(), "the failed transaction kept the turn"
        assert [r["seq"] for r in store.query("SELECT seq FROM outbox")] == [1]


def test_a_nested_transaction_on_the_serialized_handle_is_refused_not_deadlocked(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store, store.serialized() as lines:
        with pytest.raises(StoreError, match="nested"):
            with lines.transaction():
                with lines.transaction():
                    pass
        lines.emit("meter", "meter.reading", {"after": True}, Lane.BULK)  # the turn was given back
        assert store.scalar("SELECT count(*) FROM outbox") == 1


def test_commits_on_the_serialized_handle_wake_the_parents_listeners(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store, store.serialized() as lines:
        woken: list[str] = []
        store.commit_listeners.append(lambda: woken.append(threading.current_thread().name))
        thread = threading.Thread(target=lambda: lines.emit("meter", "meter.reading", {}, Lane.BULK), name="line-1")
        thread.start()
        thread.join(10)
        assert woken == ["line-1"]  # the bridge in the same process publishes at once
        assert lines.stall is store.stall  # a stall is reported once, by the same watch
