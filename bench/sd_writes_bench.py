"""SD-card wear: bytes written and fsyncs per day of the example site's store traffic.

    .venv/bin/python bench/sd_writes_bench.py [--hours 2]   # needs root and FUSE (LazyFS)

The store runs on LazyFS (tests/helpers/lazyfs.py), whose counters see every write and
every fsync the way the card would. `--hours` simulated hours of the example site
(config/example.toml: 4 meters polled every 60 s on 2 lines, one health report a minute,
a lobby action every 3 minutes) are replayed as fast as they go through the product's write
paths (`append_events` in one transaction per line and poll, `Store.emit` for critical
events, `outbox.acknowledge` as the bridge deletes what the broker acknowledged), then
extrapolated to a day (bytes written to the store's files, bytes that reached the backing
disk at fsyncs, fsyncs of files and directories).

Variants, each on a fresh mount in the same run (only ratios between them mean anything):

- baseline: the store as shipped
- checkpoint: wal_autocheckpoint 4000 pages and journal_size_limit 4 MiB on every connection
- bulk_normal: as baseline, but bulk transactions commit with synchronous=NORMAL (what-if only:
  see docs/PERFORMANCE.md for why this is not shipped)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mqtt_bridge.store import Lane, Store, outbox  # noqa: E402
from mqtt_bridge.store.outbox import append_events  # noqa: E402
from tests.helpers.lazyfs import LazyFS, unavailable  # noqa: E402

READING = {"meter_id": "m1", "kind": "electricity",
           "values": {"energy_total": {"value": 1234.5, "unit": "kWh", "quality": "good"},
                      "power": {"value": 1.2, "unit": "kW", "quality": "good"}}}
HEALTH = {"uptime_s": 1, "cpu_temp_c": 50.0, "disk_free_mb": 1000, "outbox": {"critical": 0, "bulk": 0}}
PRESS = {"press_id": "p", "device_id": "face-panel", "rating": "happy"}


def _tune(store: Store, variant: str) -> Any:
    conn = store.connection()
    if variant == "checkpoint":
        conn.execute("PRAGMA wal_autocheckpoint = 4000")
        conn.execute("PRAGMA journal_size_limit = 4194304")
    return conn


def _bulk(store: Store, variant: str, events: list[tuple[str, str, dict[str, Any]]]) -> list[int]:
    conn = store.connection()
    if variant == "bulk_normal":
        conn.execute("PRAGMA synchronous = NORMAL")
    try:
        with store.transaction() as tx:
            return [r.seq for r in append_events(tx.conn, events, Lane.BULK)]
    finally:
        if variant == "bulk_normal":
            conn.execute("PRAGMA synchronous = FULL")


def run(variant: str, hours: float, where: Path) -> dict[str, float]:
    fs = LazyFS(where / f"{variant}-backing", where / f"{variant}-mnt").mount()
    try:
        store = Store(where / f"{variant}-mnt" / "lobby.db")
        _tune(store, variant)
        before = fs.stats()
        for minute in range(int(hours * 60)):
            for line in range(2):  # one transaction per line and poll: 2 meters each
                seqs = _bulk(store, variant, [("meter", "meter.reading", READING)] * 2)
                outbox.acknowledge(store.connection(), seqs)
            seqs = _bulk(store, variant, [("health", "health.report", HEALTH)])
            outbox.acknowledge(store.connection(), seqs)
            if minute % 3 == 0:
                seq = store.emit("feedback", "feedback.press", PRESS).seq
                outbox.acknowledge(store.connection(), [seq])
        store.close()
    finally:
        fs.unmount()
    stats = fs.totals
    per_day = 24 / hours
    return {"bytes_per_day": (stats.get("bytes_written", 0) - before.get("bytes_written", 0)) * per_day,
            "synced_bytes_per_day": stats.get("bytes_synced", 0) * per_day,
            "fsyncs_per_day": (stats.get("fsyncs", 0) + stats.get("fdatasyncs", 0) + stats.get("dir_fsyncs", 0))
            * per_day}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=2.0, help="simulated hours per variant")
    args = parser.parse_args()
    reason = unavailable()
    if reason:
        print(f"skipped: {reason}")
        return 0
    with tempfile.TemporaryDirectory(prefix="sd-bench-") as tmp:
        results = {v: run(v, args.hours, Path(tmp)) for v in ("baseline", "checkpoint", "bulk_normal")}
    base = results["baseline"]
    print(f"{'variant':<12} {'MB written/day':>15} {'MB synced/day':>14} {'fsyncs/day':>11} {'ratio bytes':>12} "
          f"{'ratio fsyncs':>13}")
    for name, r in results.items():
        print(f"{name:<12} {r['bytes_per_day'] / 1e6:>15.1f} {r['synced_bytes_per_day'] / 1e6:>14.1f} "
              f"{r['fsyncs_per_day']:>11.0f} {r['bytes_per_day'] / base['bytes_per_day']:>12.2f} "
              f"{r['fsyncs_per_day'] / base['fsyncs_per_day']:>13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
