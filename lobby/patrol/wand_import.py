"""A handheld wand's upload: its rows replayed as taps in the wand's own time order, in one transaction."""

from __future__ import annotations

import json
import logging

from lobby.cardhash import card_hash
from lobby.patrol.context import PatrolContext
from lobby.patrol.model import ImportResult
from lobby.patrol.planner import Planner
from lobby.patrol.scanner import Scanner
from lobby.patrol.wand import ParsedFile
from mqtt_bridge.clock import Instant
from mqtt_bridge.store.ids import uuid7
from mqtt_bridge.timebase import rfc3339

log = logging.getLogger(__name__)

FUTURE_TOLERANCE_S = 300  # a wand row may be this far ahead of the receiving clock
IMPORT_MAX_AGE_S = 7 * 86400


def import_parsed(ctx: PatrolContext, planner: Planner, scanner: Scanner, parsed: ParsedFile, sha: str,
                  name: str) -> ImportResult:
    now = ctx.now()
    problems = list(parsed.problems)
    statuses: dict[str, int] = {}
    accepted = duplicates = 0
    rows = sorted(parsed.rows, key=lambda row: (row.time, row.line))
    import_id = uuid7()
    with ctx.store.transaction() as tx:
        for row in rows:
            if (row.time - now.wall).total_seconds() > FUTURE_TOLERANCE_S:
                problems.append((row.line, f"time {rfc3339(row.time)} is in the future; check the wand's clock"))
                continue
            if (now.wall - row.time).total_seconds() > IMPORT_MAX_AGE_S:
                problems.append((row.line, f"time {rfc3339(row.time)} is more than 7 days old"))
                continue
            uid_hash = card_hash(ctx.card_key, row.uid)
            key = f"{row.wand}|{rfc3339(row.time)}|{uid_hash}"
            if tx.execute("SELECT 1 FROM patrol_scans WHERE dedupe_key = ?", (key,)).fetchone():
                duplicates += 1
                continue
            at = Instant.wall_only(row.time, synced=False)
            result = scanner.scan(tx, row.uid, row.wand, "wand", at, now, import_id, key)
            statuses[result.status] = statuses.get(result.status, 0) + 1
            accepted += 1
        planner.advance(tx, now)
        problems.sort()
        rejected = len(problems)
        tx.execute("INSERT INTO patrol_imports (id, file_name, file_sha256, format, received_ts, rows, accepted, "
                   "duplicates, rejected, problems) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (import_id, name[:200], sha, parsed.format, now.ts, parsed.total, accepted, duplicates, rejected,
                    json.dumps(problems, ensure_ascii=False)))
        ctx.emit(tx, "patrol.import", {
            "import_id": import_id, "file_sha256": sha, "format": parsed.format, "rows": parsed.total,
            "accepted": accepted, "duplicates": duplicates, "rejected": rejected,
            "wands": sorted({row.wand for row in parsed.rows})[:50],
            "problems": [{"line": line, "error": msg[:300]} for line, msg in problems[:50]],
        })
    log.info("patrol import %s: %d rows, %d accepted, %d duplicates, %d rejected",
             import_id, parsed.total, accepted, duplicates, rejected)
    return ImportResult(import_id, sha, parsed.format, parsed.total, accepted, duplicates, rejected, problems, statuses)
