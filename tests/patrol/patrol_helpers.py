"""Shared pieces of the patrol tests: a site with four checkpoints, two guards, one night route."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from pathlib import Path
from typing import Any

from mqtt_bridge import schemas
from lobby.config import Config, parse_config
from tests.helpers.site_config import site_toml
from mqtt_bridge.store import EventRecord, Lane, Store
from mqtt_bridge.store.outbox import fetch

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
CARD_KEY = b"k" * 32
SECRET = b"s" * 32

WANG, LI = "7E11AA01", "7E11AA02"  # guard cards
STAIRS_TAG, ROOF_TAG = "04A1B2C3D4E502", "04A1B2C3D4E503"
STRANGER = "0BADCAFE"  # a card nobody configured

PATROL = """
[[readers]]
id = "nfc-lobby"
kind = "hid"
device = "/dev/input/lobby"
host = "kiosk"
checkpoint = "cp-lobby"

[[readers]]
id = "nfc-b1"
kind = "hid"
device = "/dev/input/b1"
host = "gateway"

[[readers]]
id = "nfc-hand"
kind = "hid"
device = "/dev/input/hand"
host = "gateway"

[patrol]
grace_min = 5
start_window_min = 30
early_start_min = 10
checkpoints = [
  { id = "cp-lobby", name = "大堂", place = "大堂 Lobby", reader = "nfc-lobby" },
  { id = "cp-b1", name = "B1 停车场", place = "B1 Car park", reader = "nfc-b1" },
  { id = "cp-stairs", name = "消防楼梯", place = "Fire stairs", tag_uid = "04A1B2C3D4E502" },
  { id = "cp-roof", name = "天台设备房", place = "Roof plant room", tag_uid = "04A1B2C3D4E503" },
]
guards = [
  { id = "g-wang", name = "王保安", card_uid = "7E11AA01" },
  { id = "g-li", name = "李保安", card_uid = "7E11AA02" },
]
routes = [
  { id = "night", name = "夜间巡更 Night round", checkpoints = ["cp-lobby", "cp-b1", "cp-stairs", "cp-roof"], max_gap_min = 15 },
]
schedules = [
  { route = "night", kind = "fixed", times = ["22:00", "02:00"] },
  { route = "night", kind = "random", window_from = "23:00", window_to = "01:30", count = 2 },
]
"""


def config_text(state_dir: Path, patrol: str = PATROL, port: int = 1883, store_path: Path | None = None) -> str:
    store = f'[store]\npath = "{store_path}"' if store_path else ""
    return site_toml(state_dir, port, store=store, extra=patrol)


def make_config(state_dir: Path, patrol: str = PATROL) -> Config:
    return parse_config(config_text(state_dir, patrol), "test.toml")


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=SHANGHAI)


def _records(store: Store) -> list[EventRecord]:
    conn = store.connection()
    return sorted((r for lane in Lane for r in fetch(conn, lane, 0, 1_000_000)), key=lambda r: r.seq)


def envelopes(store: Store, kind: str | None = None, type_: str | None = None) -> list[dict[str, Any]]:
    return [r.envelope(False) for r in _records(store)
            if (kind is None or r.kind == kind) and (type_ is None or r.type == type_)]


def invalid_events(store: Store) -> list[str]:
    problems = []
    for record in _records(store):
        try:
            problem = schemas.validate_event(record.kind, record.envelope(False))
        except KeyError as exc:
            problem = str(exc)
        if problem:
            problems.append(f"{record.type} #{record.seq}: {problem}")
    return problems


def data_of(store: Store, type_: str) -> list[dict[str, Any]]:
    return [e["data"] for e in envelopes(store, "patrol", type_)]


def alert_rows(store: Store, prefix: str = "patrol.") -> dict[str, dict[str, Any]]:
    rows = store.query("SELECT * FROM alerts WHERE key LIKE ? ORDER BY key", (prefix + "%",))
    for row in rows:
        row["detail"] = json.loads(row["detail"])
    return {row["key"]: row for row in rows}
