"""Store tables of the patrol engine (applied as migration 5 by mqtt_bridge.store.migrations).

All patrol state lives here, not in memory: the kiosk and the gateway both run the
engine on the same file, each scan and each timer pass in one transaction.

A moment is stored as three columns: `<name>_ts` (RFC 3339 UTC), `<name>_boot` (boot id,
'' when only a wall time is known, e.g. a wand's timestamp) and `<name>_mono`
(CLOCK_BOOTTIME nanoseconds). Deadlines are judged on the monotonic clock while the
boot lasts and on the wall clock after a reboot (mqtt_bridge.clock.Instant).
"""

SCHEMA = """
-- One row per round: planned by a schedule (state 'planned' until the first scan),
-- or started ad hoc by a guard at a route's first checkpoint.
CREATE TABLE patrol_rounds (
    id              TEXT PRIMARY KEY,            -- UUIDv7; in events and alert keys
    route_id        TEXT NOT NULL,
    plan_key        TEXT UNIQUE,                 -- '<route>@<local YYYY-MM-DDTHH:MM>'; NULL: ad hoc
    schedule_kind   TEXT CHECK (schedule_kind IN ('fixed', 'every', 'random')),
    ordered         INTEGER NOT NULL,
    grace_s         REAL NOT NULL,               -- the rules in force when the round was made
    min_gap_s       REAL NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('planned', 'open', 'closed')),
    outcome         TEXT CHECK (outcome IN ('completed', 'abandoned', 'not_started')),
    guard_id        TEXT,
    site_day        TEXT NOT NULL,               -- site-local date of the planned (or actual) start
    planned_ts      TEXT, planned_boot TEXT, planned_mono INTEGER,
    start_due_ts    TEXT, start_due_boot TEXT, start_due_mono INTEGER,   -- planned + start_window_min
    earliest_ts     TEXT, earliest_boot TEXT, earliest_mono INTEGER,     -- planned - early_start_min
    started_ts      TEXT, started_boot TEXT, started_mono INTEGER,
    start_source    TEXT,
    last_pos        INTEGER,                     -- point of the last accepted scan (repeat detection)
    alert_key       TEXT,                        -- the not-started alert, once raised
    created_ts      TEXT NOT NULL,
    closed_ts       TEXT,
    revision        INTEGER NOT NULL DEFAULT 0   -- patrol.round events sent for this round
);
CREATE INDEX patrol_rounds_state ON patrol_rounds (state, guard_id);
CREATE INDEX patrol_rounds_day ON patrol_rounds (site_day);

-- The route's checkpoints as the round was made (a later config edit does not change it).
CREATE TABLE patrol_points (
    round_id        TEXT NOT NULL REFERENCES patrol_rounds (id),
    pos             INTEGER NOT NULL,            -- 1..m in route order
    checkpoint_id   TEXT NOT NULL,
    window_s        REAL NOT NULL,               -- at most this long after the previous point
    state           TEXT NOT NULL CHECK (state IN ('pending', 'on_time', 'late', 'early', 'out_of_order', 'missed')),
    due_ts          TEXT, due_boot TEXT, due_mono INTEGER,            -- deadline, grace not included
    visited_ts      TEXT, visited_boot TEXT, visited_mono INTEGER,
    scan_id         INTEGER,
    repeats         INTEGER NOT NULL DEFAULT 0,  -- further taps of this point, counted once
    alert_key       TEXT,
    PRIMARY KEY (round_id, pos)
);
CREATE INDEX patrol_points_pending ON patrol_points (state, round_id);

-- Every tap, classified. No raw card UIDs: a keyed hash (lobby.cardhash).
CREATE TABLE patrol_scans (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT,                        -- the patrol.scan event
    status          TEXT NOT NULL,
    source          TEXT NOT NULL CHECK (source IN ('kiosk', 'gateway', 'wand')),
    device_id       TEXT NOT NULL,               -- reader id or wand id
    uid_hash        TEXT NOT NULL,
    checkpoint_id   TEXT,
    guard_id        TEXT,
    round_id        TEXT,
    pos             INTEGER,
    scanned_ts      TEXT NOT NULL,               -- when the tap happened (the wand's clock for imports)
    scanned_boot    TEXT NOT NULL,
    scanned_mono    INTEGER NOT NULL,
    received_ts     TEXT NOT NULL,               -- when the engine got it
    clock_synced    INTEGER NOT NULL,
    site_day        TEXT NOT NULL,
    import_id       TEXT,
    dedupe_key      TEXT UNIQUE                  -- wand rows: wand|time|uid hash (re-imports skip)
);
CREATE INDEX patrol_scans_day ON patrol_scans (site_day, status);

-- The guard whose card was tapped last on a wand or a reader without a checkpoint.
CREATE TABLE patrol_sessions (
    device_id       TEXT PRIMARY KEY,
    guard_id        TEXT NOT NULL,
    last_ts         TEXT NOT NULL, last_boot TEXT NOT NULL, last_mono INTEGER NOT NULL
);

-- Patrol alerts still to be cleared at the next shift handover.
CREATE TABLE patrol_alerts (
    key             TEXT PRIMARY KEY,
    round_id        TEXT NOT NULL,
    clear_ts        TEXT NOT NULL, clear_boot TEXT NOT NULL, clear_mono INTEGER NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('active', 'cleared'))
);
CREATE INDEX patrol_alerts_active ON patrol_alerts (state);

-- Wand uploads (`lobby patrol import`).
CREATE TABLE patrol_imports (
    id              TEXT PRIMARY KEY,
    file_name       TEXT NOT NULL,
    file_sha256     TEXT NOT NULL,
    format          TEXT NOT NULL,
    received_ts     TEXT NOT NULL,
    rows            INTEGER NOT NULL,
    accepted        INTEGER NOT NULL,
    duplicates      INTEGER NOT NULL,
    rejected        INTEGER NOT NULL,
    problems        TEXT NOT NULL                -- JSON [[line, message], ...]
);
"""
