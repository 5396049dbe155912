"""Schema migrations, applied in order and recorded in PRAGMA user_version.

The whole store schema lives here, at the bottom layer: every table of the
lobby, the patrol, the meters and the gateway, in the order it was added.
An older file upgrades in place when either service opens it. Each migration runs
inside one IMMEDIATE transaction, so two processes opening the same old file at
once cannot both apply it.

Compatible one version back (expand, then contract; docs/ARCHITECTURE.md): every
migration is marked @expand (it only adds: tables, nullable or defaulted columns,
indexes; code one version older can go on reading and writing the file) or @contract
(anything else: drops, renames, rebuilt tables, rewritten data, or a new rule that
older code would break). The store records the lowest schema version whose code may
still open it (`meta` key `schema_compat`), so release N opens a file that release
N+1 only expanded, and a rollback keeps every record made since the upgrade. A file
that needs newer code than this is refused, because guessing at an unknown schema
could lose data.
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


EXPAND = "expand"
CONTRACT = "contract"
COMPAT_KEY = "schema_compat"  # meta: {"schema": user_version, "readable_from": lowest code schema version}


def expand(migration: Migration) -> Migration:
    """Marks a migration that only adds (tables, nullable or defaulted columns, indexes, triggers
    that older code does not depend on): code one schema version older may still open the file."""
    migration.compat = EXPAND  # type: ignore[attr-defined]
    return migration


def contract(migration: Migration) -> Migration:
    """Marks a migration that older code must not run on (drops, renames, rebuilt tables, rewritten
    data, a rule older code would break): only code that knows it may open the file after it."""
    migration.compat = CONTRACT  # type: ignore[attr-defined]
    return migration


def kind_of(migration: Migration) -> str:
    """expand or contract; an unmarked migration counts as contract (tests insist on a mark)."""
    return getattr(migration, "compat", CONTRACT)


@expand
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


@expand
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


@expand
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


@expand
def _v4_lobby(conn: sqlite3.Connection) -> None:
    """The lobby services (lobby/services): visitors, passes, invitations, roll calls,
    tickets and their SLA clocks, feedback and satisfaction periods.

    Columns holding personal data are nullable: the retention purge sets them to
    NULL and stamps `anonymised_ts`, keeping the row for anonymous statistics.
    Times are RFC 3339 UTC text (they sort as text); `site_day` is the site-local
    date. Rows that start a timer also keep the boot id and monotonic offset.
    """
    run_script(conn, """
        CREATE TABLE visits (
            id              TEXT PRIMARY KEY,          -- UUIDv7, also in events
            status          TEXT NOT NULL CHECK (status IN ('in', 'out', 'held', 'denied')),
            name            TEXT,                      -- personal: purged after retention
            phone           TEXT,                      -- personal: canonical form
            company         TEXT,                      -- personal
            permit_no       TEXT,                      -- personal (contractor work permit)
            dedupe_key      TEXT,                      -- keyed hash of name+phone+host (double submission)
            host_id         TEXT NOT NULL,
            host_unit       TEXT NOT NULL DEFAULT '',
            host_company    TEXT NOT NULL DEFAULT '',
            host_person     TEXT,                      -- personal (the host): purged with the visit
            purpose         TEXT NOT NULL,
            party_size      INTEGER NOT NULL CHECK (party_size >= 1),
            invitation_id   TEXT,
            consent_ts      TEXT NOT NULL,
            checked_in_ts   TEXT NOT NULL,
            boot_id         TEXT NOT NULL,
            mono_ns         INTEGER NOT NULL,
            clock_synced    INTEGER NOT NULL,
            site_day        TEXT NOT NULL,
            checked_out_ts  TEXT,
            checkout_method TEXT,
            watch_entry     TEXT,                      -- watch-list entry id that held the check-in
            decided_by      TEXT,
            decided_ts      TEXT,
            host_ack_message TEXT,                     -- personal (free text from central)
            host_ack_eta_min INTEGER,
            host_ack_ts     TEXT,
            anonymised_ts   TEXT
        );
        CREATE INDEX visits_status ON visits (status, checked_in_ts);
        CREATE INDEX visits_day ON visits (site_day);
        CREATE INDEX visits_dedupe ON visits (dedupe_key);

        CREATE TABLE visitor_passes (
            pass_no      TEXT PRIMARY KEY,             -- short, readable; also the badge QR
            visit_id     TEXT NOT NULL UNIQUE REFERENCES visits (id),
            valid_from   TEXT NOT NULL,
            valid_until  TEXT NOT NULL,
            card_hash    TEXT,                         -- keyed hash of a temporary NFC card UID
            card_linked_ts TEXT,
            state        TEXT NOT NULL CHECK (state IN ('active', 'returned')),
            returned_ts  TEXT,
            site_day     TEXT NOT NULL
        );
        CREATE INDEX visitor_passes_card ON visitor_passes (card_hash, state);

        CREATE TABLE invitations (
            id           TEXT PRIMARY KEY,             -- central's invite id
            code         TEXT,                         -- 6 digits
            qr_token     TEXT,
            name         TEXT,                         -- personal
            phone        TEXT,                         -- personal
            company      TEXT,                         -- personal
            permit_no    TEXT,                         -- personal
            host_id      TEXT NOT NULL,
            purpose      TEXT NOT NULL,
            party_size   INTEGER NOT NULL DEFAULT 1,
            valid_from   TEXT NOT NULL,
            valid_until  TEXT NOT NULL,
            state        TEXT NOT NULL CHECK (state IN ('open', 'used', 'cancelled', 'expired')),
            visit_id     TEXT,
            received_ts  TEXT NOT NULL,
            used_ts      TEXT,
            command_id   TEXT,
            anonymised_ts TEXT
        );
        CREATE UNIQUE INDEX invitations_open_code ON invitations (code) WHERE state = 'open' AND code IS NOT NULL;
        CREATE UNIQUE INDEX invitations_token ON invitations (qr_token) WHERE qr_token IS NOT NULL;

        CREATE TABLE roll_calls (
            id           TEXT PRIMARY KEY,
            state        TEXT NOT NULL CHECK (state IN ('open', 'closed')),
            source       TEXT NOT NULL,                -- 'central' or 'staff'
            reason       TEXT NOT NULL DEFAULT '',
            drill        INTEGER NOT NULL DEFAULT 0,
            started_ts   TEXT NOT NULL,
            closed_ts    TEXT,
            closed_by    TEXT,
            total        INTEGER NOT NULL,             -- people (party sizes counted) when frozen
            safe         INTEGER,
            unaccounted  INTEGER
        );
        CREATE UNIQUE INDEX roll_calls_one_open ON roll_calls (state) WHERE state = 'open';

        CREATE TABLE roll_call_entries (
            roll_call_id TEXT NOT NULL REFERENCES roll_calls (id),
            visit_id     TEXT NOT NULL REFERENCES visits (id),
            party_size   INTEGER NOT NULL,
            safe_count   INTEGER NOT NULL DEFAULT 0,
            marked_ts    TEXT,
            marked_by    TEXT,
            PRIMARY KEY (roll_call_id, visit_id)
        );

        CREATE TABLE tickets (
            ticket_no     TEXT PRIMARY KEY,
            kind          TEXT NOT NULL CHECK (kind IN ('complaint', 'repair', 'suggestion', 'praise', 'enquiry', 'incident')),
            category      TEXT NOT NULL,
            building      TEXT NOT NULL DEFAULT '',
            floor         TEXT NOT NULL DEFAULT '',
            area          TEXT NOT NULL DEFAULT '',
            description   TEXT NOT NULL,
            urgent        INTEGER NOT NULL DEFAULT 0,
            equipment_fault INTEGER NOT NULL DEFAULT 0,
            return_visit_required INTEGER NOT NULL DEFAULT 0,
            contact_name  TEXT,                        -- personal: purged after ticket_contact_retention_days
            contact_phone TEXT,                        -- personal
            status        TEXT NOT NULL CHECK (status IN ('received', 'assigned', 'on_site', 'done', 'return_visit_done', 'closed')),
            assignee      TEXT,
            source        TEXT NOT NULL,               -- 'kiosk', 'button:<id>', ...
            created_ts    TEXT NOT NULL,
            boot_id       TEXT NOT NULL,
            mono_ns       INTEGER NOT NULL,
            clock_synced  INTEGER NOT NULL,
            site_day      TEXT NOT NULL,
            updated_ts    TEXT NOT NULL,
            done_ts       TEXT,
            closed_ts     TEXT,
            anonymised_ts TEXT
        );
        CREATE INDEX tickets_day ON tickets (site_day);

        CREATE TABLE ticket_updates (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            ticket_no    TEXT NOT NULL REFERENCES tickets (ticket_no),
            ts           TEXT NOT NULL,
            status_from  TEXT NOT NULL,
            status_to    TEXT NOT NULL,
            reply        TEXT,
            assignee     TEXT,
            next_reply_by TEXT,
            source       TEXT NOT NULL,
            command_id   TEXT
        );
        CREATE INDEX ticket_updates_ticket ON ticket_updates (ticket_no, id);

        -- One row per promise made to a tenant; overdue is judged on the monotonic clock
        -- while the boot that started it lasts, on the wall clock after a reboot.
        CREATE TABLE sla_clocks (
            ticket_no    TEXT NOT NULL REFERENCES tickets (ticket_no),
            clock        TEXT NOT NULL CHECK (clock IN ('first_reply', 'on_site', 'completion', 'return_visit', 'next_reply')),
            started_ts   TEXT NOT NULL,
            boot_id      TEXT NOT NULL,
            mono_ns      INTEGER NOT NULL,
            due_ts       TEXT NOT NULL,
            due_in_s     REAL NOT NULL,
            state        TEXT NOT NULL CHECK (state IN ('running', 'met', 'cancelled')),
            overdue      INTEGER NOT NULL DEFAULT 0,   -- the alert was raised (never twice)
            met_ts       TEXT,
            PRIMARY KEY (ticket_no, clock)
        );
        CREATE INDEX sla_clocks_running ON sla_clocks (state, due_ts);

        CREATE TABLE feedback (
            id           TEXT PRIMARY KEY,
            face         TEXT NOT NULL CHECK (face IN ('very_unhappy', 'unhappy', 'happy', 'very_happy')),
            reason       TEXT,
            place        TEXT NOT NULL,
            source       TEXT NOT NULL,                -- 'kiosk' or a GPIO button id
            flagged      INTEGER NOT NULL DEFAULT 0,
            ts           TEXT NOT NULL,
            boot_id      TEXT NOT NULL,
            mono_ns      INTEGER NOT NULL,
            clock_synced INTEGER NOT NULL,
            site_day     TEXT NOT NULL,
            site_month   TEXT NOT NULL
        );
        CREATE INDEX feedback_day ON feedback (site_day);
        CREATE INDEX feedback_month ON feedback (site_month);
        CREATE INDEX feedback_recent ON feedback (place, source, face, boot_id, mono_ns);

        CREATE TABLE satisfaction_periods (
            period       TEXT NOT NULL CHECK (period IN ('day', 'month')),
            start        TEXT NOT NULL,                -- site-local YYYY-MM-DD or YYYY-MM
            presses      INTEGER NOT NULL,
            counted      INTEGER NOT NULL,
            flagged      INTEGER NOT NULL,
            satisfied    INTEGER NOT NULL,
            satisfaction_pct REAL,
            target_pct   REAL NOT NULL,
            computed_ts  TEXT NOT NULL,
            PRIMARY KEY (period, start)
        );
        """)


@expand
def _v5_patrol(conn: sqlite3.Connection) -> None:
    # Store tables of the patrol engine (applied as migration 5 by mqtt_bridge.store.migrations).
    #
    # All patrol state lives here, not in memory: the kiosk and the gateway both run the
    # engine on the same file, each scan and each timer pass in one transaction.
    #
    # A moment is stored as three columns: `<name>_ts` (RFC 3339 UTC), `<name>_boot` (boot id,
    # '' when only a wall time is known, e.g. a wand's timestamp) and `<name>_mono`
    # (CLOCK_BOOTTIME nanoseconds). Deadlines are judged on the monotonic clock while the
    # boot lasts and on the wall clock after a reboot (mqtt_bridge.clock.Instant).
    run_script(conn, """
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
""")


@expand
def _v6_meters(conn: sqlite3.Connection) -> None:
    # Store tables of the meter service (applied as migration 6 by mqtt_bridge.store.migrations).
    #
    # Times are RFC 3339 UTC text from the service's clock (they sort as text); `day`
    # and `start` are site-local dates (YYYY-MM-DD) or months (YYYY-MM). Values are in
    # the canonical units of drivers/meters/points.py.
    run_script(conn, """
-- The last reading of each meter, for the staff screen and `lobby` tools (one row per meter).
CREATE TABLE meter_latest (
    meter_id    TEXT PRIMARY KEY,
    read_ts     TEXT NOT NULL,
    ok          INTEGER NOT NULL,            -- every value good
    failed_polls INTEGER NOT NULL DEFAULT 0, -- polls in a row without any good value
    health      TEXT NOT NULL,               -- ok, degraded, lost
    reason      TEXT NOT NULL DEFAULT '',
    data        TEXT NOT NULL                -- JSON {point: {value, unit, quality}}
);

-- Each cumulative register's last accepted value and its odometer: the consumption it has
-- counted since first seen, excluding steps that were not consumption (a register that went
-- backwards, a meter reset or replaced). A rollover of a BCD counter is counted as consumption.
CREATE TABLE meter_registers (
    meter_id    TEXT NOT NULL,
    point       TEXT NOT NULL,
    unit        TEXT NOT NULL,
    value       REAL NOT NULL,
    read_ts     TEXT NOT NULL,
    odometer    REAL NOT NULL,
    PRIMARY KEY (meter_id, point)
);

-- The first accepted reading of the billing register on each site-local day: the edges
-- that daily and monthly consumption are cut at.
CREATE TABLE meter_day_edges (
    meter_id    TEXT NOT NULL,
    day         TEXT NOT NULL,
    point       TEXT NOT NULL,
    unit        TEXT NOT NULL,
    read_ts     TEXT NOT NULL,
    value       REAL NOT NULL,
    odometer    REAL NOT NULL,
    PRIMARY KEY (meter_id, day)
);

-- Consumption per meter and period, for billing. One row (and one meter.consumption event)
-- per meter, period and start: the primary key makes publishing idempotent across restarts.
CREATE TABLE meter_consumption (
    meter_id    TEXT NOT NULL,
    period      TEXT NOT NULL CHECK (period IN ('day', 'month')),
    start       TEXT NOT NULL,
    point       TEXT NOT NULL,
    unit        TEXT NOT NULL,
    consumption REAL NOT NULL,
    first       REAL NOT NULL,               -- register at the period's first edge
    last        REAL NOT NULL,               -- register at the period's last edge
    first_ts    TEXT NOT NULL,
    last_ts     TEXT NOT NULL,
    complete    INTEGER NOT NULL,            -- both edges read within the edge window
    computed_ts TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    PRIMARY KEY (meter_id, period, start)
);
""")


@contract
def _v8_counters_in_code(conn: sqlite3.Connection) -> None:
    # The bulk-lane counters are kept by mqtt_bridge.store.outbox, once per batch:
    # per-row triggers doubled the write cost of every meter reading.
    run_script(conn, """
        DROP TRIGGER IF EXISTS outbox_bulk_in;
        DROP TRIGGER IF EXISTS outbox_bulk_out;
        """)


@contract
def _v9_no_card_uids_in_commands(conn: sqlite3.Connection) -> None:
    # cards.update payloads hold staff and guard card UIDs in clear; the cards table
    # keeps keyed hashes only, so the copies in the command log are scrubbed.
    conn.execute("UPDATE commands SET data = NULL WHERE name = 'cards.update'")


@expand
def _v10_complaint_verdict(conn: sqlite3.Connection) -> None:
    # central's verdict on a complaint (ticket.update "valid"): NULL until judged
    conn.execute("ALTER TABLE tickets ADD COLUMN complaint_valid INTEGER")


@contract
def _v12_ticket_rules(conn: sqlite3.Connection) -> None:
    # The ticket state machine's facts (return visit recorded or exempted, verdict time) and
    # SLA clocks that are honest about unsynced starts and climb one escalation level at a time.
    # sla_clocks is rebuilt because its CHECK list gains verdict_reply (SQLite cannot alter a CHECK).
    conn.execute("ALTER TABLE tickets ADD COLUMN return_visit_ts TEXT")
    conn.execute("ALTER TABLE tickets ADD COLUMN return_visit_exempt TEXT")
    conn.execute("ALTER TABLE tickets ADD COLUMN verdict_ts TEXT")
    run_script(conn, """
        UPDATE tickets SET return_visit_ts = (SELECT min(u.ts) FROM ticket_updates u
            WHERE u.ticket_no = tickets.ticket_no AND u.status_to = 'return_visit_done');

        CREATE TABLE sla_clocks_v11 (
            ticket_no    TEXT NOT NULL REFERENCES tickets (ticket_no),
            clock        TEXT NOT NULL CHECK (clock IN ('first_reply', 'on_site', 'completion', 'return_visit',
                                                        'next_reply', 'verdict_reply')),
            started_ts   TEXT NOT NULL,
            boot_id      TEXT NOT NULL,
            mono_ns      INTEGER NOT NULL,
            due_ts       TEXT NOT NULL,
            due_in_s     REAL NOT NULL,
            state        TEXT NOT NULL CHECK (state IN ('running', 'met', 'cancelled')),
            overdue      INTEGER NOT NULL DEFAULT 0,   -- an alert was raised (level >= 1)
            met_ts       TEXT,
            anchored     INTEGER NOT NULL DEFAULT 1,   -- 0: started unsynced (provisional); 1: true time; 2: re-anchored
                                                       --    after a reboot on the latest possible start (never early)
            seconds_safe INTEGER NOT NULL DEFAULT 1,   -- due_in_s is never shorter than the true length
            basis        TEXT NOT NULL DEFAULT 'fixed', -- fixed, or the working-day calendar: official/central/estimated
            level        INTEGER NOT NULL DEFAULT 0,   -- escalation level raised: 1 staff .. 4 director
            PRIMARY KEY (ticket_no, clock)
        );
        INSERT INTO sla_clocks_v11 (ticket_no, clock, started_ts, boot_id, mono_ns, due_ts, due_in_s, state, overdue,
                                    met_ts, level)
            SELECT ticket_no, clock, started_ts, boot_id, mono_ns, due_ts, due_in_s, state, overdue, met_ts, overdue
            FROM sla_clocks;
        DROP TABLE sla_clocks;
        ALTER TABLE sla_clocks_v11 RENAME TO sla_clocks;
        CREATE INDEX sla_clocks_running ON sla_clocks (state, due_ts);

        -- Each boot's first and last sighting (monotonic ns), in boot order: a lower bound on the
        -- time that passed across reboots (lobby/services/sla_evidence.py).
        CREATE TABLE boot_spans (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            boot_id       TEXT NOT NULL UNIQUE,
            first_mono_ns INTEGER NOT NULL,
            last_mono_ns  INTEGER NOT NULL,
            first_ts      TEXT NOT NULL,
            last_ts       TEXT NOT NULL
        );
        """)


@expand
def _v13_kpis(conn: sqlite3.Connection) -> None:
    # 设施设备完好率 sampled per device and day; misuse reasons on feedback presses; survey results from central.
    conn.execute("ALTER TABLE feedback ADD COLUMN flag_reason TEXT")
    run_script(conn, """
        -- Each inventory device's condition per site-local day: in good order only if every sample was ok.
        CREATE TABLE device_condition (
            day          TEXT NOT NULL,
            device_id    TEXT NOT NULL,
            kind         TEXT NOT NULL,
            samples      INTEGER NOT NULL DEFAULT 0,
            good_samples INTEGER NOT NULL DEFAULT 0,
            worst        TEXT NOT NULL CHECK (worst IN ('ok', 'degraded', 'unknown', 'lost')),
            PRIMARY KEY (day, device_id)
        );

        -- Satisfaction surveys run by central (twice a year), kept apart from the lobby's face presses.
        CREATE TABLE surveys (
            survey_id      TEXT PRIMARY KEY,
            handed_out_on  TEXT NOT NULL,          -- site-local YYYY-MM-DD
            units_occupied INTEGER NOT NULL,
            handed_out     INTEGER NOT NULL,
            returned       INTEGER NOT NULL,       -- returned within the return window
            satisfied      INTEGER NOT NULL,
            return_due     TEXT NOT NULL,          -- YYYY-MM-DD: survey_return_working_days after hand-out
            received_ts    TEXT NOT NULL
        );
        """)


@expand
def _v14_meter_slots(conn: sqlite3.Connection) -> None:
    # Today's use per meter for the staff screen's sparklines: the billing register's odometer
    # at the end of each 15-minute slot (the last accepted reading in it). Kept two days.
    run_script(conn, """
CREATE TABLE meter_slots (
    meter_id    TEXT NOT NULL,
    slot_ts     TEXT NOT NULL,               -- RFC 3339 UTC start of the 15-minute slot
    point       TEXT NOT NULL,
    unit        TEXT NOT NULL,
    odometer    REAL NOT NULL,
    PRIMARY KEY (meter_id, slot_ts)
);
""")


@expand
def _v7_gateway(conn: sqlite3.Connection) -> None:
    # Store tables of the gateway service (applied as migration 7 by mqtt_bridge.store.migrations).
    run_script(conn, """
-- Seconds each configured device spent in working order, per site-local day (facility KPI).
CREATE TABLE device_uptime (
    day       TEXT NOT NULL,
    device_id TEXT NOT NULL,
    ok_s      REAL NOT NULL DEFAULT 0,
    total_s   REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (day, device_id)
);

-- KPI and daily jobs already published, so a restart never publishes a period twice.
CREATE TABLE periodic_done (
    job    TEXT NOT NULL,
    period TEXT NOT NULL,
    done_ts TEXT NOT NULL,
    PRIMARY KEY (job, period)
);

-- The open ticket a complaint/help button press attached to (repeat presses join it).
CREATE TABLE button_tickets (
    button_id   TEXT NOT NULL,
    ticket_no   TEXT NOT NULL,
    opened_ts   TEXT NOT NULL,
    last_press_ts TEXT NOT NULL,
    presses     INTEGER NOT NULL DEFAULT 1,
    led_state   TEXT NOT NULL DEFAULT 'pending' CHECK (led_state IN ('pending', 'acknowledged', 'closed')),
    acked_ts    TEXT,
    PRIMARY KEY (button_id, ticket_no)
);
CREATE INDEX button_tickets_open ON button_tickets (button_id, led_state);
""")


@contract
def _v11_trust_boundaries(conn: sqlite3.Connection) -> None:
    # Issue #13. Wrong lookups at the kiosk (invitation codes, phone digits, ticket numbers),
    # kept so that a restart does not reset the count (lobby/services/guessing.py).
    run_script(conn, """
CREATE TABLE guess_failures (
    id      INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL,
    kiosk   TEXT NOT NULL,
    ts      TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    mono_ns INTEGER NOT NULL
);
CREATE INDEX guess_failures_kind ON guess_failures (kind, kiosk, id);
""")
    # The command log keeps only what answers a retried id: no payloads once done (a queued
    # command's consumer still reads its data), no results beyond a small summary, and
    # error texts are replaced, since older ones could quote the values they refused.
    conn.execute("UPDATE commands SET data = NULL WHERE state = 'done'")
    conn.execute("UPDATE commands SET result = '{}' WHERE length(result) > 512")
    conn.execute("UPDATE commands SET error = 'refused (the reason was removed from the log)' "
                 "WHERE error IS NOT NULL")


@expand
def _v15_time_unsynced(conn: sqlite3.Connection) -> None:
    # Issue #19. Events stamped while the clock was not NTP-synchronised, one row per boot: the seq
    # range and the wall clock's reading at the boot's monotonic zero (wall - monotonic) while
    # unsynced. Once the clock syncs in the same boot the bridge sends `time.corrected` with the
    # offset after; a row left from an earlier boot can never be corrected (`time.uncorrectable`).
    # The row goes in the transaction that queues its event, so a restart in between loses nothing.
    run_script(conn, """
CREATE TABLE time_unsynced (
    boot_id          TEXT PRIMARY KEY,
    first_seq        INTEGER NOT NULL,
    last_seq         INTEGER NOT NULL,
    events           INTEGER NOT NULL,
    offset_first_ms  INTEGER NOT NULL,   -- wall - monotonic (ms) of the first such event
    offset_last_ms   INTEGER NOT NULL,   -- ... and of the latest (they differ if the clock was stepped meanwhile)
    first_ts         TEXT NOT NULL
);
""")


@expand
def _v16_critical_lane_index(conn: sqlite3.Connection) -> None:
    # Issue #17. The (lane, seq) index held an entry for every bulk reading, written with
    # every poll cycle. Bulk rows are read in seq order, which the table itself is in (seq
    # is the rowid); only the critical lane needs an index to be found among a bulk
    # backlog. SQLite uses a partial index for `lane = ?` when the bound value is 0.
    # Expand-only: the previous release's queries stay correct without outbox_lane_seq
    # (SQLite finds another plan), so a rollback keeps working on this store.
    run_script(conn, """
        CREATE INDEX IF NOT EXISTS outbox_critical ON outbox (seq) WHERE lane = 0;
        DROP INDEX IF EXISTS outbox_lane_seq;
        """)


MIGRATIONS: list[Migration] = [_v1_outbox, _v2_commands_alerts, _v3_directory_cards_notices, _v4_lobby, _v5_patrol, _v6_meters, _v7_gateway,
                                _v8_counters_in_code,
                                _v9_no_card_uids_in_commands, _v10_complaint_verdict,
                                _v11_trust_boundaries, _v12_ticket_rules, _v13_kpis, _v14_meter_slots,
                                _v15_time_unsynced, _v16_critical_lane_index]
LATEST = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def readable_from(upto: int, migrations: list[Migration] | None = None) -> int:
    """The lowest code schema version that may open a file at schema `upto`: the last contract at or
    below it (an expand leaves the file readable by the code one version older)."""
    steps = MIGRATIONS if migrations is None else migrations
    floor = 0
    for version in range(1, upto + 1):
        if kind_of(steps[version - 1]) == CONTRACT:
            floor = version
    return floor


def recorded_compat(conn: sqlite3.Connection) -> int | None:
    """The file's own record of the lowest code schema version that may open it, if it is about the
    schema the file is at now (a user_version changed by hand, or by software without this record,
    leaves it unknown)."""
    import json

    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (COMPAT_KEY,)).fetchone()
    except sqlite3.OperationalError:  # no meta table
        return None
    if row is None:
        return None
    try:
        record = json.loads(row[0])
        if int(record["schema"]) == schema_version(conn):
            return int(record["readable_from"])
    except (ValueError, KeyError, TypeError):
        return None
    return None


def can_open(conn: sqlite3.Connection, known: int | None = None) -> bool:
    """Whether code that knows schema versions up to `known` (default: this code's) may open this file."""
    known = LATEST if known is None else known
    current = schema_version(conn)
    if current <= known:
        return True
    floor = recorded_compat(conn)
    return floor is not None and floor <= known


def _record_compat(conn: sqlite3.Connection, version: int) -> None:
    import json

    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 (COMPAT_KEY, json.dumps({"schema": version, "readable_from": readable_from(version)})))


def migrate(conn: sqlite3.Connection, upto: int | None = None) -> int:
    """Bring the schema to `upto` (default: latest). Returns the version in force.

    A file at a newer schema is opened as it is when its record says code at `LATEST` may still
    read it (the newer release only expanded it); otherwise SchemaTooNewError.
    """
    upto = LATEST if upto is None else upto
    current = schema_version(conn)
    if current > LATEST:
        if can_open(conn):
            return current
        floor = recorded_compat(conn)
        needs = f"software that knows schema {floor} or later" if floor is not None else "newer software"
        raise SchemaTooNewError(
            f"the store was written by newer software (schema version {current}, this "
            f"software knows up to {LATEST}; the file needs {needs}); upgrade lobby or restore a matching backup"
        )
    while current < upto:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = schema_version(conn)  # another process may have migrated meanwhile
            if current < upto:
                MIGRATIONS[current](conn)
                current += 1
                conn.execute(f"PRAGMA user_version = {current}")
                _record_compat(conn, current)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    if current == LATEST and current > 0 and recorded_compat(conn) is None:
        # A file migrated by software older than this record: write it once.
        conn.execute("BEGIN IMMEDIATE")
        try:
            if recorded_compat(conn) is None and schema_version(conn) == current:
                _record_compat(conn, current)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return current
