"""Seeing what central receives: `lobby watch` and the seq bookkeeping behind it.

SeqTracker is what a central consumer must do with the contract: de-duplicate
by id, and find losses as seqs that never arrived and were not announced as
dropped (`outbox.dropped`). Critical events overtake bulk ones, so seqs arrive
out of order; a seq counts as missing only once it is older than the newest
seen and has not arrived by the time someone asks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SeqTracker:
    received: int = 0
    duplicates: int = 0
    max_seq: int = 0
    _seen: bytearray = field(default_factory=bytearray)
    _dropped: bytearray = field(default_factory=bytearray)
    dropped_announced: int = 0

    def _grow(self, seq: int) -> None:
        if seq >= len(self._seen):
            extra = max(seq + 1 - len(self._seen), len(self._seen) or 1024)
            self._seen.extend(bytes(extra))
            self._dropped.extend(bytes(extra))

    def add(self, envelope: dict[str, Any]) -> bool:
        """Record one envelope; returns False if it was a duplicate."""
        seq = int(envelope["seq"])
        self._grow(seq)
        self.received += 1
        if envelope.get("type") == "outbox.dropped":
            for first, last in envelope["data"]["ranges"]:
                self._grow(last)
                for s in range(first, last + 1):
                    if not self._dropped[s]:
                        self._dropped[s] = 1
                        self.dropped_announced += 1
        if self._seen[seq]:
            self.duplicates += 1
            return False
        self._seen[seq] = 1
        self.max_seq = max(self.max_seq, seq)
        return True

    @property
    def unique(self) -> int:
        return self._seen.count(1)

    def missing(self, upto: int | None = None) -> list[int]:
        """Seqs up to `upto` (default: the newest seen) neither received nor announced dropped."""
        end = self.max_seq if upto is None else upto
        self._grow(end)
        return [s for s in range(1, end + 1) if not self._seen[s] and not self._dropped[s]]

    def has(self, seq: int) -> bool:
        return seq < len(self._seen) and bool(self._seen[seq])


def event_line(doc: dict[str, Any], batched: bool = False) -> str:
    """One line for one event envelope (alone, or an item of a batch: flag B)."""
    flags = "".join(["H" if doc.get("historical") else "-", "C" if doc.get("clock_synced") else "?",
                     "B" if batched else "-"])
    data = json.dumps(doc.get("data", {}), ensure_ascii=False, separators=(",", ":"))
    if len(data) > 110:
        data = data[:107] + "..."
    return f"#{doc['seq']:<8} {flags} {doc.get('ts', '')} {doc.get('type', ''):22} {data}"


def batch_items(topic: str, payload: bytes, base: str) -> list[dict[str, Any]] | None:
    """The event envelopes a message carries: one on events/<kind>, the items of a
    batch on batch/<kind>, None for any other topic. Raises ValueError, KeyError or
    TypeError for a malformed message."""
    rel = topic[len(base) + 1:] if topic.startswith(base + "/") else ""
    if not rel.startswith(("events/", "batch/")):
        return None
    doc = json.loads(payload)
    items = doc["items"] if rel.startswith("batch/") else [doc]
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i["seq"], int) for i in items):
        raise TypeError("not a list of event envelopes")
    return items


def describe(topic: str, payload: bytes, base: str) -> str:
    """One readable line per message (a batch: one line per item, after a heading)."""
    rel = topic[len(base) + 1:] if topic.startswith(base + "/") else topic
    if not payload:
        return f"{rel:32} (empty: retained state cleared)"
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return f"{rel:32} <{len(payload)} bytes, not JSON>"
    if not isinstance(doc, dict):
        return f"{rel:32} {payload[:120]!r}"
    if rel.startswith("events/") and "seq" in doc:
        return event_line(doc)
    if rel.startswith("batch/") and isinstance(doc.get("items"), list):
        items = [i for i in doc["items"] if isinstance(i, dict) and "seq" in i]
        lines = [f"{rel:32} batch of {len(doc['items'])}"] + [event_line(i, batched=True) for i in items]
        return "\n".join(lines)
    if rel.startswith("state/") and "seq" in doc:
        return f"{rel:32} {event_line(doc)}"
    if rel == "status":
        return f"{rel:32} {doc.get('state')} (version {doc.get('version')}, since {doc.get('ts')})"
    if rel.startswith("alerts/"):
        return f"{rel:32} {doc.get('severity')} {doc.get('state')}{' acked' if doc.get('acked') else ''}: {doc.get('title')}"
    if rel.endswith("/result"):
        outcome = "ok" if doc.get("ok") else f"ERROR {doc.get('error')}"
        return f"{rel:32} id={doc.get('id')} {outcome}"
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    return f"{rel:32} {text[:140]}"
