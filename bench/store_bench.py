"""Outbox commit throughput against raw sqlite3, measured in one run.

    .venv/bin/python bench/store_bench.py [--seconds 3]

Both sides use the same file system, WAL and synchronous=FULL, so the ratio
shows what the store adds (seq counter, envelope, ids, JSON, the bulk-lane
trigger) on top of SQLite's own durable commit:

- single: one event per transaction, committed (fsync) before the next
- batched: 100 events per transaction (a meter poll cycle)

The raw baseline inserts a row of the same size into a plain table with
sqlite3 and commits the same way. This machine is shared and noisy: only
ratios measured in the same run mean anything.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mqtt_bridge.store import Lane, Store  # noqa: E402
from mqtt_bridge.store.outbox import append_events  # noqa: E402

READING = {"meter_id": "elec-plant", "kind": "electricity", "place": "B1",
           "values": {"energy_total": {"value": 123456.78, "unit": "kWh", "quality": "good"}}}
PAYLOAD = json.dumps(READING)


def rate(seconds: float, step: Callable[[], int]) -> float:
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += step()
    return done / (time.perf_counter() - start)


def raw_sqlite(path: Path, batch: int, seconds: float) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, kind TEXT, ts TEXT, data TEXT)")

    def step() -> int:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO t (kind, ts, data) VALUES (?, ?, ?)",
                         [("meter", "2026-11-25T10:00:00.000Z", PAYLOAD)] * batch)
        conn.execute("COMMIT")
        return batch

    result = rate(seconds, step)
    conn.close()
    return result


def outbox(path: Path, batch: int, seconds: float) -> float:
    store = Store(path)

    def single() -> int:
        store.emit("meter", "meter.reading", READING, Lane.BULK)
        return 1

    def batched() -> int:
        with store.transaction() as tx:
            append_events(tx.conn, [("meter", "meter.reading", READING)] * batch, Lane.BULK)
        return batch

    result = rate(seconds, single if batch == 1 else batched)
    store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--dir", help="folder on the file system to measure (default: a temp folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        print(f"file system under {folder}; WAL, synchronous=FULL; {args.seconds:.0f} s per measurement")
        print(f"{'case':28} {'raw sqlite3':>14} {'outbox':>14} {'ratio':>8}")
        for label, batch in (("single event per commit", 1), ("100 events per commit", 100)):
            raw = raw_sqlite(folder / f"raw-{batch}.db", batch, args.seconds)
            ours = outbox(folder / f"outbox-{batch}.db", batch, args.seconds)
            print(f"{label:28} {raw:12.0f}/s {ours:12.0f}/s {ours / raw:8.2f}")
    os._exit(0)


if __name__ == "__main__":
    main()
