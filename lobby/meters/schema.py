"""Store tables of the meter service (applied as migration 6 by mqtt_bridge.store.migrations).

Times are RFC 3339 UTC text from the service's clock (they sort as text); `day`
and `start` are site-local dates (YYYY-MM-DD) or months (YYYY-MM). Values are in
the canonical units of lobby/meters/points.py.
"""

SCHEMA = """
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
"""
