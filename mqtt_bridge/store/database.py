"""The one SQLite file that is the product's source of truth.

WAL lets the kiosk and the gateway write from separate processes; every write
transaction starts with BEGIN IMMEDIATE so the write lock is taken up front and
waits (busy timeout) instead of failing half-way; synchronous=FULL makes a commit
durable before the caller tells anyone "done".
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mqtt_bridge.store.migrations import migrate, schema_version
from mqtt_bridge.store.outbox import EventRecord, Lane, append_event
from mqtt_bridge.store.stall import StallWatch

if TYPE_CHECKING:
    import sqlite_utils

log = logging.getLogger(__name__)


class StoreError(RuntimeError):
    """The store cannot do what was asked; the message says why in plain words."""


class StoreFullError(StoreError):
    """The filesystem refused the write (disk full or quota)."""


def _is_disk_full(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code == 13 or "disk is full" in str(exc) or "database or disk is full" in str(exc)


# SQLite keeps every page a connection touched until the connection's cache is full (2,000 KiB
# by default), so a long-lived connection grows with the tables it touches: the meters' 15-minute
# slots fill for two days, the command log up to 2 MB, tickets and visits for their retention.
# Two days of slots for 100 meters took a connection from 0.24 to 2.10 MiB of SQLite memory
# (tests/unit/test_store_page_cache.py). The gateway keeps four connections; at 256 KiB each
# their caches still filled for hours after the start (about 0.75 MiB more than at five
# minutes). What the cache does not hold, the kernel's page cache serves: draining 200,000
# outbox rows at 64 KiB ran at 0.95-0.97 of 256 KiB, appending them as fast.
PAGE_CACHE_KIB = 64
# A write transaction keeps the pages it changed in memory until it commits, up to SQLite's
# default cache (500 pages of 4 KiB): were they spilled into the WAL as soon as the small cache
# above is full, a page changed again later in the same transaction would be written twice
# (60 pages changed twice each: 117 page writes at a 256 KiB cache, 60 with this). At the
# commit the cache shrinks back to PAGE_CACHE_KIB.
SPILL_AFTER_PAGES = 500


def connect(path: str | os.PathLike[str], busy_timeout_ms: int = 5000,
            page_cache_kib: int | None = PAGE_CACHE_KIB) -> sqlite3.Connection:
    """Open the file with the project's pragmas (no schema work); `page_cache_kib` caps the
    connection's page cache between transactions (None: SQLite's 2,000 KiB)."""
    conn = sqlite3.connect(
        str(path),
        timeout=busy_timeout_ms / 1000,
        isolation_level=None,  # we issue BEGIN/COMMIT ourselves
        check_same_thread=False,
    )
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreError(f"cannot switch {path} to WAL mode (got {mode}); is it on a network filesystem?")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_size_limit = 67108864")
    if page_cache_kib is not None:
        conn.execute(f"PRAGMA cache_size = {-int(page_cache_kib)}")
    conn.execute(f"PRAGMA cache_spill = {SPILL_AFTER_PAGES}")
    return conn


class Transaction:
    """An open write transaction: raw SQL, sqlite-utils tables, and the outbox."""

    __slots__ = ("conn", "_db")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._db: sqlite_utils.Database | None = None

    @property
    def db(self) -> "sqlite_utils.Database":
        """sqlite-utils on this transaction's connection, imported on first use: the
        services write SQL, and sqlite-utils (with click, dateutil and pluggy) costs
        every process that loads it about 4 MB."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn, execute_plugins=False)
        return self._db

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def emit(self, kind: str, type_: str, data: dict[str, Any], lane: Lane = Lane.CRITICAL) -> EventRecord:
        """Append an event to the outbox as part of this transaction."""
        return append_event(self.conn, kind, type_, data, lane)


class Store:
    """A handle on the store for one process; each thread gets its own connection, unless the
    handle was made by `serialized()`: then its threads take turns on one connection."""

    def __init__(self, path: str | os.PathLike[str], busy_timeout_ms: int = 5000, *,
                 one_connection: bool = False, page_cache_kib: int | None = PAGE_CACHE_KIB) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.page_cache_kib = page_cache_kib
        self._local = threading.local()
        # One connection for every thread of this handle, one thread at a time (see `serialized`).
        self._turn: threading.RLock | None = threading.RLock() if one_connection else None
        self._all: dict[sqlite3.Connection, str] = {}  # open connection -> the thread that opened it
        self._lock = threading.Lock()
        # Called after every commit in this process (the bridge wakes up to publish at once).
        self.commit_listeners: list[Callable[[], None]] = []
        # Writes refused by the disk or a lock: one line when they stall and one when they recover (stall.py).
        self.stall = StallWatch(self.path.name)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = self.connection()
            migrate(conn)
        except sqlite3.DatabaseError as exc:
            self.close()
            if _is_disk_full(exc):
                raise StoreFullError(f"no space left to open the store {self.path}") from exc
            raise StoreError(f"cannot open the store {self.path}: {exc}") from exc
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ plumbing

    def serialized(self) -> "Store":
        """A second handle on the same file whose threads share one connection, taking turns.

        For a group of threads that write now and then, such as one per RS-485 line: SQLite
        lets one writer in at a time anyway, and each connection of its own costs its thread a
        page cache, a parsed schema and a malloc arena (about 0.35 MiB each, measured with ten
        meter lines; bench/gateway_rss_bench.py). Commits wake the same listeners and stalls are
        reported by the same watch as this handle's. Close it with `close()`."""
        other = Store(self.path, self.busy_timeout_ms, one_connection=True, page_cache_kib=self.page_cache_kib)
        other.commit_listeners = self.commit_listeners
        other.stall = self.stall
        return other

    def _taking_turns(self) -> contextlib.AbstractContextManager[object]:
        return self._turn if self._turn is not None else contextlib.nullcontext()

    def connection(self) -> sqlite3.Connection:
        if self._turn is not None:
            with self._turn:
                if not self._all:
                    shared = connect(self.path, self.busy_timeout_ms, self.page_cache_kib)
                    with self._lock:
                        self._all[shared] = "(shared)"
                return next(iter(self._all))
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, self.busy_timeout_ms, self.page_cache_kib)
            self._local.conn = conn
            with self._lock:
                self._all[conn] = threading.current_thread().name
        return conn

    def connection_owners(self) -> list[str]:
        """The names of the threads that hold a connection of this handle ("(shared)" for a
        serialized handle's one): which threads keep a page cache and prepared statements."""
        with self._lock:
            return list(self._all.values())

    @contextlib.contextmanager
    def connection_released_after(self) -> Iterator[None]:
        """For a thread that uses the store now and then, such as a button's dispatch or an NFC
        reader's: a connection the block opens is closed at its end, so the thread does not keep
        one between events. Opening one takes 0.7 ms (median, development machine); keeping one
        costs the process its page cache, parsed schema and prepared statements (0.1–0.3 MiB)
        for every such thread that was ever used. A connection the thread had before is left open."""
        had = self.has_thread_connection
        try:
            yield
        finally:
            conn = getattr(self._local, "conn", None)
            if not had and conn is not None and not conn.in_transaction:
                self.close_thread_connection()

    @property
    def has_thread_connection(self) -> bool:
        """Whether the calling thread has a connection of its own open."""
        return getattr(self._local, "conn", None) is not None

    def close_thread_connection(self) -> None:
        """Close the calling thread's own connection; its next use of the store opens another.

        For a thread that is done with the store for a long while: the services' main thread
        after start-up, whose connection would otherwise keep the statements it prepared
        (the migrations'), its parsed schema and page cache for as long as the process runs
        (about 0.5 MiB, measured in the gateway; bench/gateway_rss_bench.py). A handle made by
        `serialized()` shares one connection between its threads and is left as it is."""
        if self._turn is not None:
            return
        conn = getattr(self._local, "conn", None)
        if conn is None:
            return
        if conn.in_transaction:
            raise StoreError("cannot close this thread's connection inside a transaction")
        del self._local.conn
        with self._lock:
            self._all.pop(conn, None)
        with contextlib.suppress(sqlite3.Error):
            conn.close()

    @property
    def schema_version(self) -> int:
        return schema_version(self.connection())

    def close(self) -> None:
        with self._lock:
            conns, self._all = list(self._all), {}
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """BEGIN IMMEDIATE ... COMMIT. Returns only after the commit is on disk."""
        with self._taking_turns():
            yield from self._transaction()

    def _transaction(self) -> Iterator[Transaction]:
        conn = self.connection()
        if conn.in_transaction:
            raise StoreError("nested store transactions are not supported; pass the Transaction down")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            self.stall.failed(exc)
            raise StoreError(f"store is busy or unavailable: {exc}") from exc
        try:
            yield Transaction(conn)
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                self.stall.failed(exc)
            if isinstance(exc, sqlite3.DatabaseError) and _is_disk_full(exc):
                raise StoreFullError(
                    f"the filesystem holding {self.path} is full: the write was refused and nothing was saved"
                ) from exc
            raise
        self.stall.succeeded()
        for listener in self.commit_listeners:
            listener()

    def emit(self, kind: str, type_: str, data: dict[str, Any], lane: Lane = Lane.CRITICAL) -> EventRecord:
        """Record one event on its own (a transaction of just the outbox row)."""
        with self.transaction() as tx:
            return tx.emit(kind, type_, data, lane)

    # ------------------------------------------------------------------ reading

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        with self._taking_turns():
            cursor = self.connection().execute(sql, params)
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def scalar(self, sql: str, params: Any = ()) -> Any:
        with self._taking_turns():
            cursor = self.connection().execute(sql, params)
            row = cursor.fetchone()
            cursor.close()  # a statement left open would hold a read snapshot (and the WAL) on a shared connection
            return None if row is None else row[0]

    def integrity_check(self) -> str:
        return str(self.scalar("PRAGMA integrity_check"))

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        value = self.scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return default if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as tx:
            tx.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

