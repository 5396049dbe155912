"""Schema migrations, applied in order and recorded in PRAGMA user_version.

An older file upgrades in place when either service opens it; a file written by
newer software is refused, because guessing at an unknown schema could lose data.
Each migration runs inside one IMMEDIATE transaction, so two processes opening
the same old file at once cannot both apply it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Execute a multi-statement script inside the caller's transaction.

    sqlite3's executescript() would COMMIT the open transaction first, which
    would make a migration half-applied after a crash.
    """
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            if statement.strip():
                conn.execute(statement)
            statement = ""
    if statement.strip().strip(";").strip():
        raise ValueError("incomplete SQL statement at the end of a migration script")


class SchemaTooNewError(RuntimeError):
    pass


def _v1_outbox(conn: sqlite3.Connection) -> None:
    run_script(conn, 
        """
        CREATE TABLE counters (
            name  TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        );
        INSERT INTO counters (name, value) VALUES ('seq', 0), ('bulk_rows', 0), ('bulk_bytes', 0);

        CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );

        -- The transactional outbox: one row per event, deleted after the broker's PUBACK.
        CREATE TABLE outbox (
            seq          INTEGER PRIMARY KEY,   -- +1 per event for the gateway's life
            id           TEXT    NOT NULL,      -- UUIDv7, consumers de-duplicate by it
            kind         TEXT    NOT NULL,      -- topic segment: visitor, meter, ...
            type         TEXT    NOT NULL,      -- e.g. meter.reading
            lane         INTEGER NOT NULL CHECK (lane IN (0, 1)),  -- 0 critical, 1 bulk
            ts           TEXT    NOT NULL,      -- RFC 3339 UTC, milliseconds
            boot_id      TEXT    NOT NULL,
            mono_ns      INTEGER NOT NULL,
            clock_synced INTEGER NOT NULL,
            data         TEXT    NOT NULL       -- JSON
        );
        CREATE INDEX outbox_lane_seq ON outbox (lane, seq);

        -- Bulk lane size, kept exact across processes without counting rows.
        CREATE TRIGGER outbox_bulk_in AFTER INSERT ON outbox WHEN NEW.lane = 1 BEGIN
            UPDATE counters SET value = value + 1 WHERE name = 'bulk_rows';
            UPDATE counters SET value = value + length(NEW.data) WHERE name = 'bulk_bytes';
        END;
        CREATE TRIGGER outbox_bulk_out AFTER DELETE ON outbox WHEN OLD.lane = 1 BEGIN
            UPDATE counters SET value = value - 1 WHERE name = 'bulk_rows';
            UPDATE counters SET value = value - length(OLD.data) WHERE name = 'bulk_bytes';
        END;
        """
    )


def _v2_commands_alerts(conn: sqlite3.Connection) -> None:
    run_script(conn, 
        """
        -- Every command central sent, valid or not: its answer is replayed for a repeated id.
        CREATE TABLE commands (
            id          TEXT PRIMARY KEY,
            name        TEXT NOT NULL,
            received_ts TEXT NOT NULL,
            ok          INTEGER NOT NULL,
            error       TEXT,
            result      TEXT,                 -- JSON detail returned with the result
            data        TEXT,                 -- JSON, valid commands only
            state       TEXT NOT NULL DEFAULT 'done' CHECK (state IN ('pending', 'done')),
            consumer    TEXT                  -- 'kiosk' or 'gateway' for pending work
        );
        CREATE INDEX commands_pending ON commands (consumer, state);

        -- One row per alert condition, keyed stably (e.g. meter.offline:elec-lobby).
        CREATE TABLE alerts (
            key         TEXT PRIMARY KEY,
            severity    TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
            state       TEXT NOT NULL CHECK (state IN ('active', 'cleared')),
            acked       INTEGER NOT NULL DEFAULT 0,
            acked_by    TEXT,
            title       TEXT NOT NULL,
            detail      TEXT NOT NULL DEFAULT '{}',  -- JSON
            first_seen  TEXT NOT NULL,
            last_seen   TEXT NOT NULL,
            cleared_at  TEXT,
            count       INTEGER NOT NULL DEFAULT 1,
            version     INTEGER NOT NULL DEFAULT 1,  -- +1 on every change
            published_version INTEGER NOT NULL DEFAULT 0  -- the retained topic shows this version
        );
        INSERT INTO counters (name, value) VALUES ('published', 0);
        """
    )


def _v3_directory_cards_notices(conn: sqlite3.Connection) -> None:
    run_script(conn, """
        -- Staff and guard cards allowed at the kiosk: only keyed hashes of UIDs are kept.
        CREATE TABLE cards (
            uid_hash   TEXT PRIMARY KEY,
            role       TEXT NOT NULL CHECK (role IN ('staff', 'guard')),
            holder_id  TEXT,
            active     INTEGER NOT NULL DEFAULT 1,
            source     TEXT NOT NULL CHECK (source IN ('config', 'central')),
            updated_ts TEXT NOT NULL
        );

        -- Whom a visitor may visit, as central last sent it (directory.update).
        CREATE TABLE directory (
            id         TEXT PRIMARY KEY,
            unit       TEXT NOT NULL,
            company    TEXT NOT NULL DEFAULT '',
            person     TEXT NOT NULL DEFAULT '',
            floor      TEXT NOT NULL DEFAULT '',
            active     INTEGER NOT NULL DEFAULT 1,
            updated_ts TEXT NOT NULL
        );

        -- Approved notices for the home screen (notice.show / notice.hide).
        CREATE TABLE notices (
            notice_id  TEXT PRIMARY KEY,
            title      TEXT NOT NULL,
            body       TEXT NOT NULL DEFAULT '',
            until_ts   TEXT,
            shown_ts   TEXT NOT NULL
        );
        """)


MIGRATIONS: list[Migration] = [_v1_outbox, _v2_commands_alerts, _v3_directory_cards_notices]
LATEST = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, upto: int = LATEST) -> int:
    """Bring the schema to `upto` (default: latest). Returns the version in force."""
    current = schema_version(conn)
    if current > LATEST:
        raise SchemaTooNewError(
            f"the store was written by newer software (schema version {current}, this "
            f"software knows up to {LATEST}); upgrade lobby or restore a matching backup"
        )
    while current < upto:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = schema_version(conn)  # another process may have migrated meanwhile
            if current < upto:
                MIGRATIONS[current](conn)
                current += 1
                conn.execute(f"PRAGMA user_version = {current}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return current
