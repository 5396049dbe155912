"""Outbox commit throughput against plain sqlite3 inserts of the same rows, measured in one run.

    .venv/bin/python bench/store_bench.py [--rounds 8] [--slice 1.0]

Both sides use the same file system, WAL and synchronous=FULL, BEGIN IMMEDIATE
and one COMMIT per batch, so the ratio shows what the store adds on top of
SQLite's own durable commit:

- single: one event per transaction, committed (fsync) before the next, on the
  bulk lane and on the critical lane (a check-in, a ticket: each its own commit)
- batched: 100 events per transaction (a meter poll cycle), once with the clock
  synchronised (a Pi's steady state) and once with the clock not yet synchronised
  (the minutes after a boot without network: each commit also records the range of
  events to correct later, mqtt_bridge/timesync.py)

The baseline writes the same rows: a plain table with the outbox's ten columns
(no secondary index, no counters), each row with the same content the outbox
stores for a reading (a distinct UUIDv7 text id, kind, type, lane, the time
stamp, the boot id, the monotonic offset, the clock flag and the compact JSON
text of the same reading). Its rows are built before the clock starts; the
outbox pays, inside the measured time, for everything it does per event (the id,
the JSON encoding, the record, the seq counter, the bulk-lane counters, the lane
index).

This machine is shared and noisy: the two sides are measured in alternating
slices (`--rounds` of `--slice` seconds each), so a burst of load from other work
falls on both; the ratio printed is the median of the per-round ratios, with the
lowest and highest.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mqtt_bridge.store import Lane, Store  # noqa: E402
from mqtt_bridge.store.ids import uuid7  # noqa: E402
from mqtt_bridge.store.outbox import append_events, encode_data  # noqa: E402
from mqtt_bridge.timebase import Stamp  # noqa: E402

READING = {"meter_id": "elec-plant", "kind": "electricity", "place": "B1",
           "values": {"energy_total": {"value": 123456.78, "unit": "kWh", "quality": "good"}}}

PLAIN = """CREATE TABLE t (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL, kind TEXT NOT NULL, type TEXT NOT NULL,
    lane INTEGER NOT NULL, ts TEXT NOT NULL, boot_id TEXT NOT NULL, mono_ns INTEGER NOT NULL,
    clock_synced INTEGER NOT NULL, data TEXT NOT NULL)"""


def plain_table(path: Path, synchronous: str) -> sqlite3.Connection:
    """The baseline's file: WAL, the given synchronous level, the plain ten-column table."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute(PLAIN)
    return conn


def readings(batch: int) -> list[dict]:
    """`batch` distinct readings (distinct dict objects, as a poll cycle produces)."""
    return [{**READING, "values": {"energy_total": {**READING["values"]["energy_total"], "value": 123456.78 + i}}}
            for i in range(batch)]


def rate(seconds: float, step: Callable[[], int]) -> float:
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += step()
    return done / (time.perf_counter() - start)


class Raw:
    """Plain sqlite3: the same ten columns and the same content, rows built beforehand."""

    def __init__(self, path: Path, batch: int) -> None:
        self.conn = plain_table(path, "FULL")
        stamp = Stamp.now()
        self.rows = [(uuid7(), "meter", "meter.reading", int(Lane.BULK), stamp.ts, stamp.boot_id, stamp.mono_ns,
                      int(stamp.clock_synced), encode_data(data)) for data in readings(batch)]
        self.batch = batch

    def step(self) -> int:
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany("INSERT INTO t (id, kind, type, lane, ts, boot_id, mono_ns, clock_synced, data) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", self.rows)
        self.conn.execute("COMMIT")
        return self.batch

    def close(self) -> None:
        self.conn.close()


class Outbox:
    def __init__(self, path: Path, batch: int, lane: Lane = Lane.BULK) -> None:
        self.store = Store(path)
        self.events = [("meter", "meter.reading", data) for data in readings(batch)]
        self.batch = batch
        self.lane = lane

    def step(self) -> int:
        if self.batch == 1:
            self.store.emit(*self.events[0], self.lane)
        else:
            with self.store.transaction() as tx:
                append_events(tx.conn, self.events, self.lane, records=False)  # as the meter recorder does
        return self.batch

    def close(self) -> None:
        self.store.close()


# (label, events per commit, LOBBY_CLOCK_SYNCED): a Pi's clock is synchronised (NTP) in steady
# state; until then, the first minutes after a boot without network, every commit also widens
# this boot's row in time_unsynced (one more page to the WAL), which `time.corrected` repairs.
CASES = (("one event per commit", 1, "1", Lane.BULK),
         ("one critical event", 1, "1", Lane.CRITICAL),
         ("100 events per commit", 100, "1", Lane.BULK),
         ("100, clock not yet synced", 100, "0", Lane.BULK))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--slice", type=float, default=1.0, help="seconds per side per round")
    parser.add_argument("--dir", help="folder on the file system to measure (default: a temp folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        print(f"file system under {folder}; WAL, synchronous=FULL; {args.rounds} alternating rounds of "
              f"{args.slice:g} s per side")
        print(f"{'case':26} {'raw sqlite3':>12} {'outbox':>12} {'ratio (median)':>15} {'low-high':>11}")
        for label, batch, synced, lane in CASES:
            os.environ["LOBBY_CLOCK_SYNCED"] = synced
            raw = Raw(folder / f"raw-{batch}-{synced}-{lane}.db", batch)
            ours = Outbox(folder / f"outbox-{batch}-{synced}-{lane}.db", batch, lane)
            rate(0.2, raw.step), rate(0.2, ours.step)  # warm both files
            raws, outs = [], []
            for _ in range(args.rounds):
                raws.append(rate(args.slice, raw.step))
                outs.append(rate(args.slice, ours.step))
            raw.close(), ours.close()
            ratios = [o / r for o, r in zip(outs, raws)]
            print(f"{label:26} {statistics.median(raws):10.0f}/s {statistics.median(outs):10.0f}/s "
                  f"{statistics.median(ratios):15.2f} {min(ratios):5.2f}-{max(ratios):.2f}")
    os._exit(0)


if __name__ == "__main__":
    main()
