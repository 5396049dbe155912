"""The transactional outbox: events written with their domain records, sent later.

A domain action writes its record and its outbox row in one transaction; the
publisher reads rows in lane order (critical before bulk), publishes them at
QoS 1 and deletes each row only after the broker's PUBACK. `seq` comes from a
counter row updated in the same transaction, so it is gap-free and
duplicate-free across processes and restarts.
"""

from __future__ import annotations

import enum
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from ..timebase import Stamp
from .ids import uuid7


class Lane(enum.IntEnum):
    CRITICAL = 0  # tickets, alerts, patrol, visitors, feedback: never dropped, sent first
    BULK = 1  # telemetry: may be thinned under the disk budget, sent after critical


@dataclass(frozen=True)
class EventRecord:
    """An outbox row; `envelope()` is what goes on the wire."""

    seq: int
    id: str
    kind: str
    type: str
    lane: Lane
    ts: str
    boot_id: str
    mono_ns: int
    clock_synced: bool
    data: str  # JSON text, kept as stored so the wire bytes are exactly what was recorded

    def envelope(self, historical: bool, ts: str | None = None, clock_synced: bool | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "seq": self.seq,
            "ts": ts or self.ts,
            "clock_synced": self.clock_synced if clock_synced is None else clock_synced,
            "historical": historical,
            "data": json.loads(self.data),
        }

    def payload(self, historical: bool, ts: str | None = None, clock_synced: bool | None = None) -> bytes:
        """The envelope as compact JSON bytes, built without re-encoding `data`."""
        synced = self.clock_synced if clock_synced is None else clock_synced
        head = json.dumps(
            {"id": self.id, "type": self.type, "seq": self.seq, "ts": ts or self.ts,
             "clock_synced": synced, "historical": historical},
            separators=(",", ":"), ensure_ascii=False,
        )
        return (head[:-1] + ',"data":' + self.data + "}").encode("utf-8")


_COLUMNS = "seq, id, kind, type, lane, ts, boot_id, mono_ns, clock_synced, data"


def _record(row: tuple[Any, ...]) -> EventRecord:
    seq, id_, kind, type_, lane, ts, boot_id, mono_ns, synced, data = row
    return EventRecord(seq, id_, kind, type_, Lane(lane), ts, boot_id, mono_ns, bool(synced), data)


def encode_data(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def append_event(conn: sqlite3.Connection, kind: str, type_: str, data: dict[str, Any],
                 lane: Lane = Lane.CRITICAL, stamp: Stamp | None = None) -> EventRecord:
    """Append one event inside the caller's open transaction."""
    if not conn.in_transaction:
        raise RuntimeError("append_event must run inside a store transaction")
    stamp = stamp or Stamp.now()
    seq = conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value").fetchone()[0]
    record = EventRecord(seq, uuid7(), kind, type_, Lane(lane), stamp.ts, stamp.boot_id,
                         stamp.mono_ns, stamp.clock_synced, encode_data(data))
    conn.execute(
        f"INSERT INTO outbox ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (record.seq, record.id, record.kind, record.type, int(record.lane), record.ts,
         record.boot_id, record.mono_ns, int(record.clock_synced), record.data),
    )
    return record


def append_events(conn: sqlite3.Connection, events: list[tuple[str, str, dict[str, Any]]],
                  lane: Lane = Lane.BULK) -> list[EventRecord]:
    """Append many (kind, type, data) events in the caller's transaction: one seq block."""
    if not events:
        return []
    if not conn.in_transaction:
        raise RuntimeError("append_events must run inside a store transaction")
    stamp = Stamp.now()
    last = conn.execute("UPDATE counters SET value = value + ? WHERE name = 'seq' RETURNING value",
                        (len(events),)).fetchone()[0]
    first = last - len(events) + 1
    records = [
        EventRecord(first + i, uuid7(), kind, type_, Lane(lane), stamp.ts, stamp.boot_id,
                    stamp.mono_ns, stamp.clock_synced, encode_data(data))
        for i, (kind, type_, data) in enumerate(events)
    ]
    conn.executemany(
        f"INSERT INTO outbox ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(r.seq, r.id, r.kind, r.type, int(r.lane), r.ts, r.boot_id, r.mono_ns, int(r.clock_synced), r.data)
         for r in records],
    )
    return records


def fetch(conn: sqlite3.Connection, lane: Lane, after_seq: int, limit: int) -> list[EventRecord]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM outbox WHERE lane = ? AND seq > ? ORDER BY seq LIMIT ?",
        (int(lane), after_seq, limit),
    ).fetchall()
    return [_record(r) for r in rows]


def delete(conn: sqlite3.Connection, seqs: list[int]) -> int:
    """Remove acknowledged rows (caller holds the transaction)."""
    deleted = 0
    for start in range(0, len(seqs), 500):
        chunk = seqs[start:start + 500]
        marks = ",".join("?" * len(chunk))
        deleted += conn.execute(f"DELETE FROM outbox WHERE seq IN ({marks})", chunk).rowcount
    return deleted


def last_seq(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0])


@dataclass(frozen=True)
class LaneDepth:
    lane: Lane
    rows: int
    oldest_seq: int | None
    oldest_ts: str | None


def depth(conn: sqlite3.Connection) -> dict[Lane, LaneDepth]:
    result: dict[Lane, LaneDepth] = {}
    for lane in Lane:
        row = conn.execute(
            "SELECT seq, ts FROM outbox WHERE lane = ? ORDER BY seq LIMIT 1", (int(lane),)
        ).fetchone()
        if lane is Lane.BULK:
            count = int(conn.execute("SELECT value FROM counters WHERE name = 'bulk_rows'").fetchone()[0])
        else:
            count = int(conn.execute("SELECT count(*) FROM outbox WHERE lane = 0").fetchone()[0])
        result[lane] = LaneDepth(lane, count, row[0] if row else None, row[1] if row else None)
    return result
