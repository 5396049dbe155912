"""Shared data and checks for the lobby service tests."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

from mqtt_bridge import schemas
from mqtt_bridge.store import EventRecord, Lane, Store
from tests.helpers.site_config import site_toml

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
CARD_KEY = bytes(range(32))

def base_config(state_dir: Path, extra: str = "") -> str:
    return site_toml(state_dir, extra=extra)


DIRECTORY = [
    ("h-1203", "12F-1203", "华润置地", "李娜", "12F"),
    ("h-0801", "8F-0801", "Acme Trading", "Bob Lee", "8F"),
    ("h-0305", "3F-0305", "", "", "3F"),
]


def seed_directory(store: Store) -> None:
    with store.transaction() as tx:
        for entry in DIRECTORY:
            tx.execute("INSERT OR IGNORE INTO directory (id, unit, company, person, floor, active, updated_ts) "
                       "VALUES (?, ?, ?, ?, ?, 1, '2026-11-01T00:00:00.000Z')", entry)


def records(store: Store, kind: str | None = None, type_: str | None = None) -> list[EventRecord]:
    found = store.query("SELECT * FROM outbox ORDER BY seq")
    out = [EventRecord(r["seq"], r["id"], r["kind"], r["type"], Lane(r["lane"]), r["ts"], r["boot_id"], r["mono_ns"],
                       bool(r["clock_synced"]), r["data"]) for r in found]
    return [r for r in out if (kind is None or r.kind == kind) and (type_ is None or r.type == type_)]


def events(store: Store, type_: str) -> list[dict[str, Any]]:
    return [json.loads(r.data) for r in records(store, type_=type_)]


def invalid_events(store: Store) -> list[str]:
    problems = []
    for record in records(store):
        try:
            problem = schemas.validate_event(record.kind, record.envelope(False))
        except KeyError as exc:  # no schema for that kind
            problem = str(exc)
        if problem:
            problems.append(f"{record.type}: {problem}")
    return problems


_command_ids = itertools.count(1)


def command(intake: Any, name: str, data: dict[str, Any], cmd_id: str | None = None) -> dict[str, Any]:
    """Send a command through the real intake (validation, transaction, result) without a broker."""
    body = {"id": cmd_id or f"c-{name}-{next(_command_ids)}",
            "ts": "2026-11-25T02:00:00.000Z", "data": data}
    result = intake.handle(name, json.dumps(body, ensure_ascii=False).encode())
    return json.loads(result.payload())


# At least 50 nasty strings: injection text, controls, huge input, emoji, RTL and bidi, zero-width,
# empty, whitespace, combining marks, full-width digits, NUL bytes.
NASTY: list[str] = [
    "",
    " ",
    "\t",
    "\n\n",
    "\u3000\u3000",
    "\u00a0",
    "Robert'); DROP TABLE visits;--",
    "' OR '1'='1",
    "1; DELETE FROM tickets WHERE 1=1",
    "\" OR \"\"=\"",
    "admin'--",
    "<script>alert(1)</script>",
    "=HYPERLINK(\"http://evil\",\"x\")",
    "+SUM(1,2)",
    "@cmd",
    "-2+3",
    "a\x00b",
    "\x00",
    "张伟\x00",
    "line\x1b[31mred",
    "\x07bell",
    "tab\tinside",
    "\r\n",
    "cr\rinside",
    "\x7f",
    "\x85next-line",
    "A" * 10_000,
    "张" * 10_000,
    "😀",
    "张伟😀",
    "👨‍👩‍👧",
    "🇨🇳",
    "❤️",
    "محمد علي",
    "שלום עליכם",
    "\u202eevil\u202c",
    "abc\u202ecba",
    "\u2066isolate\u2069",
    "\u200f",
    "\u200b",
    "zero\u200bwidth",
    "\ufeffbom",
    "\u2060joiner",
    "soft\u00adhyphen",
    "\u180e",
    "\u3164",
    "\u115f\u1160",
    "\u2800",
    "e\u0301",
    "\u0301leading",
    "Z\u0351\u0352\u0353\u0354\u0355\u0356\u0357\u0358",
    "Ñandú",
    "Nguyễn Văn A",
    "１３８１２３４５６７８",
    "+８６ １３８ １２３４ ５６７８",
    "١٣٨١٢٣٤٥٦٧٨",
    "ＡＢＣ",
    "\ud800",
    "\ue000private",
    "\U000e0041tag",
    "x\u2028y",
    "a\u2029b",
    "\ufe0f",
    "O'Brien-Smith",
    "约翰·史密斯",
    "Сергей Иванов",
    "  many    spaces   ",
    "%s%s%s%n",
    "{0}{1}",
    "../../etc/passwd",
    "null",
    "None",
    "\\x00",
    "13812345678",
    "+447911123456",
]

assert len(NASTY) >= 50
