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
from mqtt_bridge.timebase import BOOT_ID, monotonic_ns, rfc3339, utc_now
from mqtt_bridge.version import VERSION
from tests.helpers.site_config import site_toml


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Context:
    for name in (started_check.SWITCHED_ENV, started_check.SWITCHED_UPTIME_ENV, started_check.SWITCHED_BOOT_ENV):
        monkeypatch.delenv(name, raising=False)
    cfg = parse_config(site_toml(tmp_path / "state"), "test.toml")
    return Context(cfg, tmp_path / "lobby.toml", devices="no")


def _start(tmp_path: Path, version: str = VERSION, ts: str | None = None) -> tuple[Store, int]:
    """What lobby.runtime.Runtime.start records; the store is left open (the row is not acknowledged yet)."""
    store = Store(tmp_path / "state" / "lobby.db")
    started = store.emit("health", "gateway.started", {"version": version, "config_version": 1})
    store.set_meta(started_check.STARTED_META, json.dumps({
        "seq": started.seq, "version": version, "boot_id": BOOT_ID, "mono_ns": started.mono_ns,
        "ts": ts or rfc3339(utc_now())}))
    return store, started.seq


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


def test_the_boot_clock_decides_when_the_wall_clock_was_stepped(ctx: Context, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The first NTP sync steps the wall clock between the switch and the start: a start stamped
    "2001" by the wall clock is still after the switch by the boot's clock, and the reverse."""
    (tmp_path / "state").mkdir()
    switched_uptime = monotonic_ns() / 1e9
    store, seq = _start(tmp_path, ts="2001-01-01T00:00:00.000Z")  # a wall clock far behind
    with store.transaction() as tx:
        tx.execute("DELETE FROM outbox WHERE seq = ?", (seq,))  # acknowledged
    monkeypatch.setenv(started_check.SWITCHED_ENV, f"{time.time():.3f}")  # the wall clock says: before
    monkeypatch.setenv(started_check.SWITCHED_UPTIME_ENV, f"{switched_uptime:.2f}")
    monkeypatch.setenv(started_check.SWITCHED_BOOT_ENV, BOOT_ID)
    assert _verdict(ctx)[0] is Status.OK  # the boot clock says: after
    monkeypatch.setenv(started_check.SWITCHED_UPTIME_ENV, f"{monotonic_ns() / 1e9 + 60:.2f}")
    status, message = _verdict(ctx)
    assert status is Status.FAIL and "before the switch" in message  # switched after this start
    monkeypatch.setenv(started_check.SWITCHED_UPTIME_ENV, f"{switched_uptime:.2f}")
    monkeypatch.setenv(started_check.SWITCHED_BOOT_ENV, "another-boot")
    status, message = _verdict(ctx)
    assert status is Status.FAIL and "before the switch" in message  # recorded in an earlier boot
    store.close()
