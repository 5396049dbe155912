"""The disk budget: bulk telemetry is bounded, critical events never are.

Past the bulk lane's row or size budget, the oldest bulk rows are dropped (down to
90 % of the budget, so dropping is not repeated for every new reading); the
dropped seq ranges go out as an `outbox.dropped` event so central can tell a
deliberate gap from a loss, and an alert is raised. When the filesystem itself is
nearly full, half of the remaining bulk backlog is dropped too, so its pages can
hold critical events, and a critical alert is raised. Critical rows are never
touched: they are accepted until SQLite reports the disk full.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mqtt_bridge.alerts import AlertEngine, Severity
from mqtt_bridge.store import Lane, Store, Transaction, outbox

if TYPE_CHECKING:
    from mqtt_bridge.settings import BridgeSettings

log = logging.getLogger(__name__)

DROPPED_KEY = "outbox.bulk_dropped"
DISK_LOW_KEY = "gateway.disk_low"


@dataclass(frozen=True)
class Budget:
    max_rows: int
    max_bytes: int
    disk_min_free_bytes: int


def seq_ranges(seqs: list[int]) -> list[list[int]]:
    """Compress sorted seqs into inclusive [first, last] ranges."""
    ranges: list[list[int]] = []
    for seq in seqs:
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


def disk_free_bytes(path: Path) -> int:
    return shutil.disk_usage(path if path.is_dir() else path.parent).free


def _drop_oldest(tx: Transaction, count: int) -> list[int]:
    seqs = [r[0] for r in tx.execute(
        "SELECT seq FROM outbox WHERE lane = ? ORDER BY seq LIMIT ?", (int(Lane.BULK), count)).fetchall()]
    outbox.delete(tx.conn, seqs)
    return seqs


def enforce(store: Store, budget: Budget, alerts: AlertEngine) -> int:
    """Apply the budget once; returns how many bulk rows were dropped."""
    conn = store.connection()
    rows, size = (int(v) for (v,) in conn.execute(
        "SELECT value FROM counters WHERE name IN ('bulk_rows', 'bulk_bytes') ORDER BY name DESC").fetchall())
    free = disk_free_bytes(store.path)
    disk_low = free < budget.disk_min_free_bytes
    if disk_low:
        alerts.raise_alert(DISK_LOW_KEY, Severity.CRITICAL, "存储空间不足 Disk nearly full",
                           {"free_mb": round(free / 1e6, 1), "min_free_mb": round(budget.disk_min_free_bytes / 1e6, 1)})
    elif free > budget.disk_min_free_bytes * 1.2:  # hysteresis: clear with 20 % headroom
        alerts.clear(DISK_LOW_KEY)

    if rows > budget.max_rows:
        target, reason = int(budget.max_rows * 0.9), "row_budget"
    elif size > budget.max_bytes:
        avg = size / max(rows, 1)
        target, reason = int(budget.max_bytes * 0.9 / max(avg, 1)), "size_budget"
    elif disk_low and rows > 0:
        target, reason = rows // 2, "disk_low"
    else:
        return 0
    with store.transaction() as tx:
        # re-read inside the write lock: another process may have enforced already
        current = int(tx.execute("SELECT value FROM counters WHERE name = 'bulk_rows'").fetchone()[0])
        excess = current - target
        if excess <= 0:
            return 0
        dropped = _drop_oldest(tx, excess)
        if not dropped:
            return 0
        ranges = seq_ranges(dropped)
        tx.emit("health", "outbox.dropped", {"count": len(dropped), "ranges": ranges, "reason": reason})
        alerts.raise_alert(DROPPED_KEY, Severity.WARNING, "积压数据已丢弃 Queued meter readings dropped",
                           {"dropped_total": len(dropped), "reason": reason}, tx=tx)
    log.warning("bulk lane over budget (%s): dropped %d oldest readings in %d range(s)", reason, len(dropped), len(ranges))
    return len(dropped)


def budget_from_settings(settings: BridgeSettings) -> Budget:
    return Budget(settings.bulk_max_rows, settings.bulk_max_bytes, settings.disk_min_free_bytes)

