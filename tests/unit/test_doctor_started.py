"""`lobby doctor --only started`: what lobby-release's gate waits for after a switch (lobby/doctor/started_check.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from lobby.config import parse_config
from lobby.doctor import Context, Status
from lobby.doctor import started_check
from lobby.doctor.runner import plan
from mqtt_bridge.store import Store
from mqtt_bridge.timebase import rfc3339, utc_now
from mqtt_bridge.version import VERSION
from tests.helpers.site_config import site_toml


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Context:
    monkeypatch.delenv(started_check.SWITCHED_ENV, raising=False)
    cfg = parse_config(site_toml(tmp_path / "state"), "test.toml")
    return Context(cfg, tmp_path / "lobby.toml", devices="no")


def _start(tmp_path: Path, version: str = VERSION) -> tuple[Store, int]:
    """What lobby.runtime.Runtime.start records; the store is left open (the row is not acknowledged yet)."""
    store = Store(tmp_path / "state" / "lobby.db")
    seq = store.emit("health", "gateway.started", {"version": version, "config_version": 1}).seq
    store.set_meta(started_check.STARTED_META, json.dumps({"seq": seq, "version": version, "ts": rfc3339(utc_now())}))
    return store, seq


def _verdict(ctx: Context) -> tuple[Status, str]:
    (result,) = started_check.run(ctx)
    return result.status, result.message


def test_only_when_named(ctx: Context) -> None:
    assert "started" not in [c.name for c in plan(ctx.cfg)]  # a plain `lobby doctor` leaves it out
    assert [c.name for c in plan(ctx.cfg, only=["store", "started"])] == ["store", "started"]


def test_passes_only_once_acknowledged_on_this_version(ctx: Context, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "state").mkdir()
    assert _verdict(ctx)[0] is Status.FAIL  # no store: never started
    store, seq = _start(tmp_path, "0.9.0")
    status, message = _verdict(ctx)
    assert status is Status.FAIL and "runs 0.9.0" in message  # an older release's process
    store.close()
    store, seq = _start(tmp_path)
    status, message = _verdict(ctx)
    assert status is Status.FAIL and "not acknowledged" in message
    with store.transaction() as tx:  # the bridge deletes the row on the PUBACK
        tx.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
    assert _verdict(ctx)[0] is Status.OK
    monkeypatch.setenv(started_check.SWITCHED_ENV, f"{time.time() + 60:.3f}")  # switched after that start
    status, message = _verdict(ctx)
    assert status is Status.FAIL and "before the switch" in message
    monkeypatch.setenv(started_check.SWITCHED_ENV, f"{time.time() - 60:.3f}")
    assert _verdict(ctx)[0] is Status.OK
    store.close()
