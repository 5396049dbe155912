"""The command log keeps only what answers a retried id, and stays inside its row and byte bounds."""

from __future__ import annotations

import json
from pathlib import Path

from mqtt_bridge.alerts import AlertEngine
from mqtt_bridge.commands import CommandIntake, bridge_specs
from mqtt_bridge.commands.intake import TRIM_EVERY, log_size
from mqtt_bridge.store import Store


def _intake(tmp_path: Path, rows: int, size: int) -> tuple[Store, CommandIntake]:
    store = Store(tmp_path / "lobby.db")
    return store, CommandIntake(store, bridge_specs(AlertEngine(store)), 65536, log_max_rows=rows, log_max_bytes=size)


def _ping(intake: CommandIntake, n: int, echo: str = "") -> None:
    payload = {"id": f"p-{n}", "ts": "2026-12-06T01:00:00Z", "data": {"echo": echo} if echo else {}}
    assert intake.handle("ping", json.dumps(payload).encode()).ok


def test_a_flood_of_pings_stays_inside_the_row_bound_and_recent_ids_still_answer(tmp_path: Path) -> None:
    store, intake = _intake(tmp_path, rows=200, size=10_000_000)
    for n in range(2_000):
        _ping(intake, n)
    with store.transaction() as tx:
        rows, _size = log_size(tx)
    assert rows <= 200 + TRIM_EVERY
    again = intake.handle("ping", json.dumps({"id": "p-1999", "ts": "2026-12-06T01:00:00Z", "data": {}}).encode())
    assert again.replayed and again.ok  # the newest are kept: a retry is answered, not run


def test_the_byte_bound_holds_for_large_results(tmp_path: Path) -> None:
    store, intake = _intake(tmp_path, rows=1_000_000, size=20_000)
    for n in range(500):
        _ping(intake, n, echo="x" * 190)
    with store.transaction() as tx:
        _rows, size = log_size(tx)
    assert size <= 20_000 + TRIM_EVERY * 1_000  # at most one trim interval of rows over the bound


def test_no_payload_body_is_kept(tmp_path: Path) -> None:
    store, intake = _intake(tmp_path, rows=100, size=1_000_000)
    _ping(intake, 1, echo="a secret someone sent")
    assert store.query("SELECT data FROM commands") == [{"data": None}]
