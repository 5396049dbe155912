"""A connection whose tables grow for days does not grow with them (the store's page cache cap),
and a transaction bigger than the cap writes each page it changed once.

SQLite keeps every page a connection touched until the connection's cache is full
(2,000 KiB by default). The meter lines' connection writes each meter's 15-minute slot
at every poll and deletes slots older than two days, so over the first two days its
cache fills with the whole table. Measured in a fresh process with `sqlite3_memory_used`
(SQLite's own count), two days of slots for 100 meters written the way the recorder
writes them (lobby/meters/recorder.py), through the meter lines' handle as the gateway
makes it (`Store.serialized`, the store's cap) and through one without a cap.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mqtt_bridge.store.database import PAGE_CACHE_KIB, SPILL_AFTER_PAGES

ROOT = Path(__file__).resolve().parents[2]

TWO_DAYS_OF_SLOTS = """
import ctypes, datetime as dt, json, sys
from mqtt_bridge.store import Store
sqlite = ctypes.CDLL("libsqlite3.so.0")  # the library the sqlite3 module uses: one per process
sqlite.sqlite3_memory_used.restype = ctypes.c_int64
store = (Store(sys.argv[1]) if sys.argv[2] == "shipped" else Store(sys.argv[1], page_cache_kib=None)).serialized()
start = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
used = {}
for slot in range(2 * 96 + 8):  # two days and two hours of 15-minute slots
    at = start + dt.timedelta(minutes=15 * slot)
    older = (at - dt.timedelta(days=2)).isoformat()
    with store.transaction() as tx:
        for meter in range(100):
            meter_id = f"m{meter:03d}"
            tx.conn.execute(
                "INSERT INTO meter_slots (meter_id, slot_ts, point, unit, odometer) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (meter_id, slot_ts) DO UPDATE SET odometer = excluded.odometer",
                (meter_id, at.isoformat(), "energy_total", "kWh", 1000.0 + slot))
            tx.conn.execute("DELETE FROM meter_slots WHERE meter_id = ? AND slot_ts < ?", (meter_id, older))
    if slot in (8, 2 * 96 + 7):
        used[slot] = sqlite.sqlite3_memory_used()
print(json.dumps([used[8], used[2 * 96 + 7]]))
"""


def _in_a_fresh_process(script: str, db: Path, cap: str) -> list[int]:
    """Run `script` on store file `db` ("shipped": the store's cap; "uncapped": SQLite's default)."""
    done = subprocess.run([sys.executable, "-c", script, str(db), cap],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(done.stdout)


def _sqlite_memory(tmp_path: Path, cap: str) -> tuple[int, int]:
    after_2_hours, after_2_days = _in_a_fresh_process(TWO_DAYS_OF_SLOTS, tmp_path / f"s-{cap}.db", cap)
    return after_2_hours, after_2_days


def test_the_meter_lines_connection_stops_growing_with_its_tables(tmp_path: Path) -> None:
    early, late = _sqlite_memory(tmp_path, "shipped")
    assert late - early < PAGE_CACHE_KIB * 1024, (early, late)
    uncapped_early, uncapped_late = _sqlite_memory(tmp_path, "uncapped")
    assert uncapped_late - uncapped_early > late - early + 512 * 1024, (uncapped_early, uncapped_late, early, late)


# A day of slots for 100 meters, then one transaction that rewrites every tenth row twice: every
# page of the table is changed twice before the commit (about 360 pages written when nothing
# spills; with a 256 KiB cache and SQLite's default spill, 477). Bytes the process hands to
# write(2) (/proc/self/io), in pages; SQLite's memory before the transaction and after its commit.
REWRITE_TWICE = """
import ctypes, json, sys
from mqtt_bridge.store import Store
sqlite = ctypes.CDLL("libsqlite3.so.0")
sqlite.sqlite3_memory_used.restype = ctypes.c_int64
def written():
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("wchar"))
store = Store(sys.argv[1]) if sys.argv[2] == "shipped" else Store(sys.argv[1], page_cache_kib=None)
with store.transaction() as tx:
    tx.conn.executemany(
        "INSERT INTO meter_slots (meter_id, slot_ts, point, unit, odometer) VALUES (?, ?, ?, ?, ?)",
        [(f"m{meter:03d}", f"2026-12-01T{slot // 4:02d}:{slot % 4 * 15:02d}:{slot:03d}", "energy_total", "kWh", 1.0)
         for slot in range(96) for meter in range(100)])
conn = store.connection()
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
before_memory, before_written = sqlite.sqlite3_memory_used(), written()
with store.transaction() as tx:
    for odometer in (2.0, 3.0):
        tx.conn.execute("UPDATE meter_slots SET odometer = ? WHERE rowid % 10 = 0", (odometer,))
pages = (written() - before_written) // 4096
print(json.dumps([pages, before_memory, sqlite.sqlite3_memory_used()]))
"""


def _rewrite_twice(tmp_path: Path, cap: str) -> tuple[int, int, int]:
    pages, before, after = _in_a_fresh_process(REWRITE_TWICE, tmp_path / f"r-{cap}.db", cap)
    return pages, before, after


def test_a_transaction_bigger_than_the_cache_writes_each_changed_page_once(tmp_path: Path) -> None:
    pages, before, after = _rewrite_twice(tmp_path, "shipped")
    uncapped_pages, _, _ = _rewrite_twice(tmp_path, "uncapped")
    assert PAGE_CACHE_KIB // 4 < uncapped_pages < SPILL_AFTER_PAGES, uncapped_pages  # the cap alone would spill
    assert pages <= uncapped_pages + 2, (pages, uncapped_pages)  # not twice: nothing spilled mid-transaction
    assert after - before < PAGE_CACHE_KIB * 1024, (before, after)  # and the cache shrank back at the commit
