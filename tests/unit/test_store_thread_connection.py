"""Closing one thread's store connection (Store.close_thread_connection).

The services' main thread closes its connection once start-up is done (lobby/runtime.py,
lobby/gateway/service.py): it prepared the migrations' statements and would keep them, the
parsed schema and a page cache for as long as the process runs. What must hold: only the
calling thread's connection closes, another thread's keeps working mid-transaction, the
calling thread's next use opens a new connection that sees everything committed, a
transaction is never cut (the call is refused inside one), and a serialized handle, whose
threads share one connection, is left alone.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from mqtt_bridge.store import Lane, Store, StoreError
from tests.helpers.procfs import descriptors_on


def test_only_the_calling_threads_connection_closes_and_the_next_use_reopens(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = Store(db)
    store.emit("health", "gateway.started", {"n": 0})
    in_transaction, may_commit, committed = threading.Event(), threading.Event(), threading.Event()

    def other_thread() -> None:  # e.g. the bridge, holding a write transaction while main closes its own
        with store.transaction() as tx:
            tx.emit("meter", "meter.reading", {"n": 1}, Lane.BULK)
            in_transaction.set()
            assert may_commit.wait(30)
        committed.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    assert in_transaction.wait(30)
    mine = store.connection()
    assert store.has_thread_connection

    store.close_thread_connection()

    assert not store.has_thread_connection
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        mine.execute("SELECT 1")  # closed: its statements, schema and page cache are freed
    may_commit.set()  # the other thread's transaction was not disturbed
    worker.join(30)
    assert committed.is_set() and not worker.is_alive()
    # The next use from this thread opens a connection that sees both commits.
    assert [r["type"] for r in store.query("SELECT type FROM outbox ORDER BY seq")] == ["gateway.started", "meter.reading"]
    assert store.has_thread_connection and store.connection() is not mine
    store.close_thread_connection()
    store.close_thread_connection()  # nothing open: nothing to do
    store.close()
    # SQLite keeps a closed connection's file open while another connection of the process
    # has it open (closing it would drop that one's POSIX locks): gone once all are closed.
    assert descriptors_on(db) == 0


def test_it_is_refused_inside_a_transaction_which_then_commits(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    with store.transaction() as tx:
        tx.emit("health", "one", {})
        with pytest.raises(StoreError, match="inside a transaction"):
            store.close_thread_connection()
        tx.emit("health", "two", {})
    assert store.scalar("SELECT count(*) FROM outbox") == 2
    store.close()


def test_a_serialized_handle_keeps_its_shared_connection(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = Store(db)
    lines = store.serialized()
    lines.emit("meter", "meter.reading", {"n": 1}, Lane.BULK)
    before = descriptors_on(db)
    lines.close_thread_connection()  # its threads share the connection: closing it under them is not this call's job
    assert descriptors_on(db) == before
    assert lines.scalar("SELECT count(*) FROM outbox") == 1
    lines.close()
    store.close()


def test_owners_name_the_threads_and_a_released_block_leaves_none_behind(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")  # opened (and migrated) from this thread
    me = threading.current_thread().name
    assert store.connection_owners() == [me]
    errors: list[BaseException] = []

    def event_thread(n: int) -> None:  # a button's dispatch: uses the store now and then
        try:
            for i in range(3):
                with store.connection_released_after():
                    store.emit("button", "button.pressed", {"n": n, "i": i})
                    assert store.has_thread_connection
                assert not store.has_thread_connection
            with pytest.raises(ValueError), store.connection_released_after():  # a failing event too
                with store.transaction() as tx:
                    tx.emit("button", "button.pressed", {"n": n, "i": "lost"})
                    raise ValueError("the handler failed")
            assert not store.has_thread_connection
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=event_thread, args=(n,), name=f"btn-{n}-dispatch") for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert store.connection_owners() == [me]  # the event threads keep none between events
    assert store.scalar("SELECT count(*) FROM outbox") == 12  # the failed event's row rolled back

    with store.connection_released_after():  # a thread that had one keeps it
        store.scalar("SELECT 1")
    assert store.connection_owners() == [me] and store.has_thread_connection

    lines = store.serialized()
    lines.emit("meter", "meter.reading", {}, Lane.BULK)
    assert lines.connection_owners() == ["(shared)"]
    lines.close()
    store.close()
    assert store.connection_owners() == []
