"""Store tables of the gateway service (applied as migration 7 by mqtt_bridge.store.migrations)."""

SCHEMA = """
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
"""
