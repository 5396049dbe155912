"""Acknowledging published rows: the outbox's `acknowledge` against plain sqlite3 deletes, one run.

    .venv/bin/python bench/ack_bench.py [--rows 100000] [--rounds 8]

When the broker acknowledges a window of messages the bridge deletes their rows in a
transaction of its own, committed with synchronous=NORMAL in WAL (mqtt_bridge/store/outbox.py,
`acknowledge`): the rows go, the bulk lane's row and byte counters follow, the published
counter moves. The baseline deletes the same number of rows from a plain table of the same
ten columns and content (no counters, no lane index) with `DELETE ... WHERE seq IN (...)`,
same file system, WAL and synchronous=NORMAL, one commit per window. Both files are filled
beforehand with `--rows` readings; the two sides run in alternating slices, oldest rows
first, as the bridge deletes them. Printed: acknowledged rows per second on each side and
the median ratio of the rounds, with the lowest and highest.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.store_bench import plain_table, readings  # noqa: E402
from mqtt_bridge.store import Lane, Store  # noqa: E402
from mqtt_bridge.store.ids import uuid7  # noqa: E402
from mqtt_bridge.store.outbox import acknowledge, append_events, encode_data  # noqa: E402
from mqtt_bridge.timebase import Stamp  # noqa: E402


class Raw:
    def __init__(self, path: Path, rows: int) -> None:
        self.conn = plain_table(path, "NORMAL")
        stamp = Stamp.now()
        self.conn.execute("BEGIN")
        self.conn.executemany(
            "INSERT INTO t (id, kind, type, lane, ts, boot_id, mono_ns, clock_synced, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(uuid7(), "meter", "meter.reading", int(Lane.BULK), stamp.ts, stamp.boot_id, stamp.mono_ns, 1,
              encode_data(data)) for data in readings(rows)])
        self.conn.execute("COMMIT")
        self.seqs = [r[0] for r in self.conn.execute("SELECT seq FROM t ORDER BY seq")]

    def ack(self, seqs: list[int]) -> int:
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute(f"DELETE FROM t WHERE seq IN ({','.join('?' * len(seqs))})", seqs)
        self.conn.execute("COMMIT")
        return len(seqs)


class Ours:
    def __init__(self, path: Path, rows: int) -> None:
        self.store = Store(path)
        events = [("meter", "meter.reading", data) for data in readings(rows)]
        for start in range(0, rows, 1000):
            with self.store.transaction() as tx:
                append_events(tx.conn, events[start:start + 1000], Lane.BULK, records=False)
        self.conn = self.store.connection()
        self.seqs = [r[0] for r in self.conn.execute("SELECT seq FROM outbox ORDER BY seq")]

    def ack(self, seqs: list[int]) -> int:
        return acknowledge(self.conn, seqs)


def run(side: Raw | Ours, window: int, seconds: float) -> float:
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds and len(side.seqs) >= window:
        chunk, side.seqs = side.seqs[:window], side.seqs[window:]
        done += side.ack(chunk)
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--slice", type=float, default=0.2, help="seconds per side per round")
    args = parser.parse_args()
    os.environ.setdefault("LOBBY_CLOCK_SYNCED", "1")
    print(f"WAL, synchronous=NORMAL; {args.rows} rows a side; {args.rounds} alternating rounds")
    print(f"{'window':>7} {'raw sqlite3':>13} {'outbox':>13} {'ratio (median)':>15} {'low-high':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for window in (1, 20, 100):
            raw, ours = Raw(Path(tmp) / f"raw-{window}.db", args.rows), Ours(Path(tmp) / f"ours-{window}.db", args.rows)
            raws, outs = [], []
            for _ in range(args.rounds):
                pair = run(raw, window, args.slice), run(ours, window, args.slice)
                if 0 in pair:  # one side ran out of rows: the rounds so far count
                    break
                raws.append(pair[0])
                outs.append(pair[1])
            ratios = [o / r for o, r in zip(outs, raws)]
            print(f"{window:7} {statistics.median(raws):11.0f}/s {statistics.median(outs):11.0f}/s "
                  f"{statistics.median(ratios):15.2f} {min(ratios):5.2f}-{max(ratios):.2f}")
            raw.conn.close()
            ours.store.close()
    os._exit(0)


if __name__ == "__main__":
    main()
