"""Migrations are compatible one version back (docs/ARCHITECTURE.md, "Store migrations").

Every migration is marked expand or contract; an expand migration only adds (so the code one
version older keeps reading and writing the file); the store records the lowest code schema
version that may open it, and release N opens a file that N+1 only expanded.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mqtt_bridge.store import Lane, SchemaTooNewError, Store
from mqtt_bridge.store import migrations as m

# What an expand migration may not do to what was there before it.
_FORBIDDEN = {
    sqlite3.SQLITE_DELETE: "deletes rows from",
    sqlite3.SQLITE_UPDATE: "updates rows of",
    sqlite3.SQLITE_DROP_TABLE: "drops the table",
    sqlite3.SQLITE_DROP_INDEX: "drops the index",
    sqlite3.SQLITE_DROP_TRIGGER: "drops the trigger",
    sqlite3.SQLITE_DROP_VIEW: "drops the view",
}
_INTERNAL = {"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_sequence"}


def _schema(conn: sqlite3.Connection) -> dict[str, object]:
    """Every table's columns (name, type, not null, default, pk) and every index/trigger/view's SQL."""
    out: dict[str, object] = {}
    for kind, name, sql in conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"):
        if kind == "table":
            out[f"table {name}"] = [tuple(row[1:]) for row in conn.execute(f'PRAGMA table_info("{name}")')]
        else:
            out[f"{kind} {name}"] = sql
    return out


def _at(version: int) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    m.migrate(conn, upto=version)
    return conn


def test_every_migration_is_marked_expand_or_contract() -> None:
    unmarked = [f.__name__ for f in m.MIGRATIONS if getattr(f, "compat", None) not in (m.EXPAND, m.CONTRACT)]
    assert not unmarked, f"mark each migration with @expand or @contract (docs/ARCHITECTURE.md): {unmarked}"


@pytest.mark.parametrize("version", [v for v in range(1, m.LATEST + 1) if m.kind_of(m.MIGRATIONS[v - 1]) == m.EXPAND],
                         ids=lambda v: m.MIGRATIONS[v - 1].__name__)
def test_an_expand_migration_only_adds(version: int) -> None:
    """Run against the schema before it: nothing that was there is dropped, changed or rewritten, and a
    new column of an old table is nullable or has a default (the older code's INSERTs keep working)."""
    conn = _at(version - 1)
    before = _schema(conn)
    old_tables = {key.split(" ", 1)[1] for key in before if key.startswith("table ")}
    done: list[str] = []
    # A plain (not UNIQUE) index may go: the older code's statements stay correct, only their
    # plan changes. A unique index is a constraint the older code may rely on.
    plain_indexes = {key.split(" ", 1)[1] for key, sql in before.items()
                     if key.startswith("index ") and isinstance(sql, str) and "UNIQUE" not in sql.upper()}

    def authorizer(action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
        if action == sqlite3.SQLITE_DROP_INDEX and arg1 in plain_indexes:
            return sqlite3.SQLITE_OK
        if action in _FORBIDDEN and arg1 not in _INTERNAL and (arg1 in old_tables or action != sqlite3.SQLITE_DELETE):
            if action in (sqlite3.SQLITE_DELETE, sqlite3.SQLITE_UPDATE) and arg1 not in old_tables:
                return sqlite3.SQLITE_OK  # rows of a table this migration made itself
            done.append(f"{_FORBIDDEN[action]} {arg1}")
        return sqlite3.SQLITE_OK

    conn.set_authorizer(authorizer)
    conn.execute("BEGIN IMMEDIATE")
    m.MIGRATIONS[version - 1](conn)
    conn.execute("COMMIT")
    conn.set_authorizer(None)
    after = _schema(conn)
    assert not done, f"{m.MIGRATIONS[version - 1].__name__} is marked expand but {done}"
    for key, shape in before.items():
        if key.split(" ", 1)[1] in plain_indexes and key.startswith("index "):
            continue
        assert key in after, f"{key} is gone"
        if key.startswith("table "):
            new_cols = after[key][len(shape):]  # type: ignore[index]
            assert after[key][:len(shape)] == shape, f"{key} changed its existing columns"  # type: ignore[index]
            for name, _type, notnull, default, _pk in new_cols:
                assert not notnull or default is not None, \
                    f"{key}.{name} is NOT NULL without a default: the older code's INSERTs would fail"
        else:
            assert after[key] == shape, f"{key} changed"


def test_the_store_records_who_may_open_it(tmp_path: Path) -> None:
    Store(tmp_path / "s.db").close()
    conn = sqlite3.connect(tmp_path / "s.db")
    assert m.recorded_compat(conn) == m.readable_from(m.LATEST)
    last_contract = max(v for v in range(1, m.LATEST + 1) if m.kind_of(m.MIGRATIONS[v - 1]) == m.CONTRACT)
    assert m.readable_from(m.LATEST) == last_contract
    conn.close()


def _expand_next(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE release_notes (id INTEGER PRIMARY KEY, note TEXT)")
    conn.execute("ALTER TABLE feedback ADD COLUMN kiosk_build TEXT")


def _contract_next(conn: sqlite3.Connection) -> None:
    conn.execute("DROP TABLE surveys")


def test_release_n_opens_a_store_that_n_plus_1_only_expanded(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "lobby.db"
    with Store(db) as store:  # release N
        store.emit("visitor", "visitor.checked_in", {"n": 1})
    newer = [*m.MIGRATIONS, m.expand(_expand_next)]
    with monkeypatch.context() as patch:  # release N+1: one more, additive, migration
        patch.setattr(m, "MIGRATIONS", newer)
        patch.setattr(m, "LATEST", len(newer))
        with Store(db) as store:
            assert store.schema_version == m.LATEST
            store.emit("visitor", "visitor.checked_in", {"n": 2}, lane=Lane.CRITICAL)
    with Store(db) as store:  # rolled back to N: the file stays at N+1, every record is there
        assert store.schema_version == m.LATEST + 1
        store.emit("visitor", "visitor.checked_in", {"n": 3})
        rows = store.query("SELECT data FROM outbox WHERE type = 'visitor.checked_in' ORDER BY seq")
        assert [r["data"] for r in rows] == ['{"n":1}', '{"n":2}', '{"n":3}']


def test_release_n_refuses_a_store_that_n_plus_1_contracted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "lobby.db"
    Store(db).close()
    newer = [*m.MIGRATIONS, m.contract(_contract_next)]
    with monkeypatch.context() as patch:
        patch.setattr(m, "MIGRATIONS", newer)
        patch.setattr(m, "LATEST", len(newer))
        Store(db).close()
    with pytest.raises(SchemaTooNewError, match=f"knows schema {m.LATEST + 1} or later"):
        Store(db)


def test_an_unmarked_migration_counts_as_contract() -> None:
    def _v99(conn: sqlite3.Connection) -> None:
        pass

    assert m.kind_of(_v99) == m.CONTRACT
    assert m.readable_from(2, [m.MIGRATIONS[0], _v99]) == 2
