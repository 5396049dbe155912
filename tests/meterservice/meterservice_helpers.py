"""Shared pieces of the meter-service tests (a uniquely named module, unlike conftest)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mqtt_bridge import schemas
from lobby.config import Config, parse_config
from mqtt_bridge.store import Store
from tests.helpers.site_config import site_toml

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")

# Two fast lines: DL/T 645 + CJ/T 188 at 8E1, Modbus at 8N1. Fast baud rates keep the tests quick;
# the wire-level simulators still pace every byte at the configured rate.
LINES = """
[[buses]]
id = "line-a"
port = "/dev/unused-a"
baudrate = 115200
parity = "E"
timeout_ms = 100
frame_gap_ms = 2
lost_retry_s = 0.05
lost_retry_max_s = 0.1

[[buses]]
id = "line-b"
port = "/dev/unused-b"
baudrate = 115200
parity = "N"
timeout_ms = 100
lost_retry_s = 0.05
lost_retry_max_s = 0.1

[[meters]]
id = "elec-1"
bus = "line-a"
protocol = "dlt645"
address = "1"
interval_s = {interval}
max_jump_per_h = 100

[[meters]]
id = "elec-2"
bus = "line-a"
protocol = "dlt645"
address = "2"
points = ["energy_import", "power_total"]
interval_s = {interval}

[[meters]]
id = "water-1"
bus = "line-a"
protocol = "cjt188"
address = "3"
interval_s = {interval}
leak_check = true

[[meters]]
id = "sdm-1"
bus = "line-b"
protocol = "modbus"
address = "1"
map = "sdm630"
interval_s = {interval}

[[meters]]
id = "th-1"
bus = "line-b"
protocol = "modbus"
address = "2"
map = "th_sensor"
place = "大堂 Lobby"
interval_s = {interval}
"""


def make_config(state_dir: Path, *, port: int = 1883, interval: float = 60, lines: str | None = None,
                extra: str = "") -> Config:
    text = site_toml(state_dir, port) + extra + (lines if lines is not None else LINES).format(
        interval=interval)
    return parse_config(text, "meters-test.toml")


class ManualClock:
    """The service's wall clock, moved by hand (aware UTC datetimes)."""

    def __init__(self, local: dt.datetime) -> None:
        self._now = local.replace(tzinfo=SHANGHAI).astimezone(dt.timezone.utc) if local.tzinfo is None \
            else local.astimezone(dt.timezone.utc)
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self._now

    def set_local(self, *args: int) -> None:
        with self._lock:
            self._now = dt.datetime(*args, tzinfo=SHANGHAI).astimezone(dt.timezone.utc)  # type: ignore[misc]

    def advance(self, **delta: float) -> None:
        with self._lock:
            self._now += dt.timedelta(**delta)


def outbox_events(store: Store, type_prefix: str = "") -> list[dict[str, Any]]:
    rows = store.query("SELECT seq, id, kind, type, lane, ts, clock_synced, boot_id, mono_ns, data FROM outbox ORDER BY seq")
    out = []
    for row in rows:
        if not row["type"].startswith(type_prefix):
            continue
        out.append({"kind": row["kind"], "lane": row["lane"],
                    "envelope": {"id": row["id"], "type": row["type"], "seq": row["seq"], "ts": row["ts"],
                                 "clock_synced": bool(row["clock_synced"]), "boot_id": row["boot_id"],
                                 "mono_ns": row["mono_ns"], "historical": False,
                                 "data": json.loads(row["data"])}})
    return out


def invalid_events(store: Store) -> list[str]:
    problems = []
    for event in outbox_events(store):
        problem = schemas.validate_event(event["kind"], event["envelope"])
        if problem:
            problems.append(f"{event['envelope']['type']} #{event['envelope']['seq']}: {problem}")
    return problems


def readings(store: Store, meter_id: str | None = None) -> list[dict[str, Any]]:
    found = [e["envelope"]["data"] for e in outbox_events(store, "meter.reading")]
    return [d for d in found if meter_id is None or d["meter_id"] == meter_id]


def alert(store: Store, key: str) -> dict[str, Any] | None:
    rows = store.query("SELECT * FROM alerts WHERE key = ?", (key,))
    return rows[0] if rows else None


def active(store: Store, key: str) -> bool:
    row = alert(store, key)
    return row is not None and row["state"] == "active"


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise TimeoutError(f"timed out waiting for {what}")
