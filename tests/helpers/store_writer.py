"""A separate OS process that writes events into a store, for concurrency and kill tests.

Usage: python -m tests.helpers.store_writer DB COUNT WRITER_ID [--report]
With --report it prints each seq after its commit returned, so the parent knows
exactly which events were acknowledged before it killed this process.
"""

from __future__ import annotations

import sys

from mqtt_bridge.store import Lane, Store


def main() -> None:
    path, count, writer = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    report = "--report" in sys.argv
    store = Store(path, busy_timeout_ms=30_000)
    print("ready", flush=True)
    for i in range(count):
        with store.transaction() as tx:
            tx.execute("CREATE TABLE IF NOT EXISTS writes (writer TEXT, n INTEGER, seq INTEGER)")
            record = tx.emit("test", "test.write", {"writer": writer, "n": i},
                             Lane.BULK if i % 3 == 0 else Lane.CRITICAL)
            tx.execute("INSERT INTO writes VALUES (?, ?, ?)", (writer, i, record.seq))
        if report:
            print(record.seq, flush=True)
    store.close()


if __name__ == "__main__":
    main()
