"""Times recorded before NTP synchronised, corrected once it has (issue #19).

A Pi has no real-time clock: until NTP syncs, its wall clock may be days off, and every
event stamped meanwhile carries that wrong time, in its envelope `ts` and in the times
its `data` holds (a ticket's `created_at`, its `due`, a visit's arrival...). Such events
are sent at once, as recorded (`clock_synced: false`, with `boot_id` and `mono_ns`), and
corrected afterwards, rather than held until the clock syncs: a visitor must not wait
for NTP at the kiosk, nothing accepted may be held without a bound, and NTP may be
blocked for hours.

The correction: `outbox.append_event(s)` keeps, per boot, the seq range of the events
stamped unsynced and the wall clock's reading at the boot's monotonic zero as those
stamps saw it (`offset_before_ms`, wall - monotonic). Once the clock is synchronised in
the same boot, the true offset is known exactly (`offset_after_ms`, read now: the
monotonic clock did not jump), and one `time.corrected` event tells central, for every
event of that boot in that range whose `clock_synced` is false, to move each of its
times by `offset_after_ms - (ts - mono_ns)` (exact per event, even if the clock was
stepped while unsynced: `offset_before_ms` is then only the first such offset).

The range row and its correction event are one transaction: a restart of the gateway
before the sync leaves the row, and the correction is sent after it, exact as long as
the boot is the same. A row left from an earlier boot can never be corrected (the
offset of a boot that ended unsynced is unknowable): `time.uncorrectable` says so, so
central marks those events rather than keeping silently wrong times.
"""

from __future__ import annotations

import logging
from typing import Any

from mqtt_bridge.store import Lane, Store
from mqtt_bridge.timebase import BOOT_ID, clock_synchronised, monotonic_ns, rfc3339, utc_now

log = logging.getLogger(__name__)


def pending(store: Store) -> list[dict[str, Any]]:
    """The boots whose unsynced events have not been corrected or marked yet."""
    return [dict(r) for r in store.query("SELECT * FROM time_unsynced ORDER BY first_seq")]


def correct(store: Store, synced: bool | None = None) -> list[dict[str, Any]]:
    """Send what can be sent now: `time.corrected` for this boot once the clock is synchronised,
    `time.uncorrectable` for any earlier boot. Returns the events' data."""
    if not store.scalar("SELECT count(*) FROM time_unsynced"):
        return []  # the usual case: read only, no write transaction
    synced = clock_synchronised() if synced is None else synced
    sent: list[dict[str, Any]] = []
    with store.transaction() as tx:
        cursor = tx.execute("SELECT * FROM time_unsynced ORDER BY first_seq")
        names = [d[0] for d in cursor.description]
        for row in [dict(zip(names, r)) for r in cursor.fetchall()]:
            common = {"boot_id": row["boot_id"], "first_seq": row["first_seq"], "last_seq": row["last_seq"],
                      "events": row["events"], "offset_before_ms": row["offset_first_ms"]}
            if row["offset_last_ms"] != row["offset_first_ms"]:
                common["offset_before_last_ms"] = row["offset_last_ms"]
            if row["boot_id"] == BOOT_ID:
                if not synced:
                    continue
                mono = monotonic_ns()
                wall = utc_now()
                offset_after = round(wall.timestamp() * 1000) - mono // 1_000_000
                data = {**common, "offset_after_ms": offset_after, "synced_at": rfc3339(wall),
                        "shift_ms": offset_after - row["offset_first_ms"]}
                tx.emit("health", "time.corrected", data, Lane.CRITICAL)
                log.info("clock synchronised: %d events (seq %d-%d) were stamped %+.1f s off; time.corrected sent",
                         row["events"], row["first_seq"], row["last_seq"], -data["shift_ms"] / 1000)
            else:
                data = {**common, "reason": "the boot ended before the clock was synchronised: its offset is unknown"}
                tx.emit("health", "time.uncorrectable", data, Lane.CRITICAL)
                log.warning("%d events (seq %d-%d) from an earlier boot were stamped on an unsynchronised clock "
                            "that never synced in that boot: marked uncorrectable", row["events"], row["first_seq"],
                            row["last_seq"])
            tx.execute("DELETE FROM time_unsynced WHERE boot_id = ?", (row["boot_id"],))
            sent.append(data)
    return sent
