"""The store on a small filesystem filled to the brim, then given space back.

A 16 MB tmpfs (7 MB of it taken by someone else's file) holds the state directory while
the broker is away; store.disk_min_free_mb is 5, above the 4 MB the WAL may grow to before
its auto-checkpoint, so the budget's margin is not eaten by the WAL alone. Meter readings
(bulk) pile up, the disk budget drops the oldest with an `outbox.dropped` event
and raises `gateway.disk_low` (critical); critical events (feedback presses from
the lobby services, health events) keep being accepted until SQLite itself
reports the disk full, and then the caller gets a clear StoreFullError (the lobby
services a polite message). When space returns and the broker is back, events
flow again and nothing that was committed is lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lobby.services import LobbyServices
from mqtt_bridge.budget import DISK_LOW_KEY, disk_free_bytes
from lobby.cardhash import load_key
from lobby.config import Config, parse_config
from lobby.runtime import Runtime
from mqtt_bridge.store import Lane, StoreError, StoreFullError, outbox
from tests.chaos.report import report
from tests.helpers.site_config import site_toml
from tests.helpers.broker import Broker
from tests.helpers.central import Central

pytestmark = pytest.mark.slow

READING = {"meter_id": "m1", "kind": "electricity",
           "values": {"energy_total": {"value": 1.0, "unit": "kWh", "quality": "good"}}}


@contextlib.contextmanager
def small_filesystem(where: Path, size: str = "8m") -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here (needs root/CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield where
    finally:
        for _ in range(50):
            if subprocess.run(["umount", str(where)], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)


def test_full_disk_drops_bulk_keeps_critical_refuses_clearly_and_recovers(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    broker = Broker(tmp_path / "broker")  # not started: central is away while the disk fills
    with small_filesystem(tmp_path / "small", "16m") as small:
        state = small / "state"
        cfg = parse_config(site_toml(state_dir=state, port=broker.port, discovery="false", mqtt_extra="",
                                              extra="[store]\ndisk_min_free_mb = 5\n"))
        rt = Runtime(cfg, None)
        caplog.set_level(logging.INFO)
        try:
            _fill_and_recover(rt, cfg, broker, small)
        finally:
            rt.stop()
            broker.stop()
    # the refusals were logged without personal data or screen text
    assert not [r for r in caplog.records if "Sorry" in r.getMessage() or "对不起" in r.getMessage()]


def _fill_and_recover(rt: Runtime, cfg: Config, broker: Broker, small: Path) -> None:
    lobby = LobbyServices(rt.store, cfg, card_key=load_key(cfg.state_dir))
    filler = small / "filler.bin"
    filler.write_bytes(os.urandom(7_000_000))  # someone else's files: removed later to give space back
    rt.start()  # the bridge enforces the budget every second, also while offline
    critical_seqs: list[int] = []
    acked_presses: list[str] = []
    bulk_committed = 0
    full_errors: list[str] = []
    refused: list[tuple[str, str, str]] = []

    # Phase 1: readings pile up at a meter-bus pace until the budget sees the disk nearly full
    # (below store.disk_min_free_mb) and drops the oldest of them.
    phase1_start = time.monotonic()
    deadline = time.monotonic() + 60
    while not rt.store.scalar("SELECT 1 FROM outbox WHERE type = 'outbox.dropped'"):
        assert time.monotonic() < deadline, "the budget never dropped readings for the disk"
        try:
            with rt.store.transaction() as tx:
                outbox.append_events(tx.conn, [("meter", "meter.reading", READING)] * 20, Lane.BULK)
            bulk_committed += 20
        except StoreError as exc:
            pytest.fail(f"the disk filled up before the budget dropped anything: {exc}")
        time.sleep(0.02)
    phase1_free = disk_free_bytes(rt.store.path)
    phase2_start = time.monotonic()

    # Phase 2: only critical events now (a health event and a lobby feedback press in turn),
    # as fast as they come, until the filesystem itself refuses.
    deadline = time.monotonic() + 90
    while not (full_errors and refused):
        assert time.monotonic() < deadline, "the filesystem never filled up with critical events"
        outcome = lobby.feedback.press("happy", source="kiosk")
        if outcome.ok and outcome.value is not None:
            acked_presses.append(outcome.value.press_id)
        else:
            refused.append((outcome.status, outcome.message.zh, outcome.message.en))
        try:
            critical_seqs.append(rt.store.emit("health", "gateway.started",
                                               {"version": "disk", "config_version": 1}).seq)
        except StoreFullError as exc:
            full_errors.append(str(exc))
    phase2_s = time.monotonic() - phase2_start
    time.sleep(2.0)  # stays full a while: the budget keeps trying and failing, nothing breaks
    assert "full" in full_errors[0] and "nothing was saved" in full_errors[0]
    status, zh, en = refused[0]
    assert status == "store_error" and zh.startswith("对不起") and en.startswith("Sorry")
    alert = rt.alerts.get(DISK_LOW_KEY)
    assert alert is not None and alert["severity"] == "critical" and alert["state"] == "active"
    dropped = rt.store.query("SELECT data FROM outbox WHERE type = 'outbox.dropped'")
    assert dropped, "bulk readings were never dropped for the disk"
    # critical rows are never touched by the budget: every committed one is still queued
    queued = {r["seq"] for r in rt.store.query("SELECT seq FROM outbox WHERE lane = 0")}
    assert set(critical_seqs) <= queued
    fill_figures = {"bulk_phase_s": phase2_start - phase1_start, "critical_phase_s": phase2_s,
                    "free_bytes_at_first_drop": phase1_free, "free_bytes_when_full": disk_free_bytes(rt.store.path),
                    "bulk_committed": bulk_committed, "critical_committed": len(critical_seqs),
                    "lobby_presses_acknowledged": len(acked_presses), "lobby_presses_refused": len(refused),
                    "store_full_errors": len(full_errors), "dropped_events": len(dropped)}

    # --- space comes back, and so does central
    filler.unlink()
    recovered_at = time.monotonic()
    broker.start()
    central = Central(broker.port, cfg.base_topic, client_id="central-disk", clean=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            outcome = lobby.feedback.press("very_happy", source="kiosk")
            if outcome.ok and outcome.value is not None:
                acked_presses.append(outcome.value.press_id)
                break
            time.sleep(0.2)
        else:
            pytest.fail("the store still refuses writes after space came back")
        writes_back_s = time.monotonic() - recovered_at
        last = outbox.last_seq(rt.store.connection())
        rt.bridge.wake()
        central.wait_seqs(last, timeout=120)
        flow_back_s = time.monotonic() - recovered_at
        free_after = disk_free_bytes(rt.store.path)
        central.wait_for(lambda: any(e["type"] == "alert.cleared" and e["data"]["key"] == DISK_LOW_KEY
                                     for e in central.events), timeout=30,
                         what=f"disk_low cleared ({free_after} bytes free, {fill_figures})")
        alert_cleared_s = time.monotonic() - recovered_at
        with central.lock:
            delivered_presses = {e["data"]["press_id"] for e in central.events if e["type"] == "feedback.press"}
            dropped_types = {e["type"] for e in central.events if e["seq"] in set(critical_seqs)}
        missing = central.tracker.missing(last)
        figures = {**fill_figures, "events_produced": last, "delivered_unique": central.tracker.unique,
                   "dropped_announced": central.tracker.dropped_announced, "lost": len(missing),
                   "acknowledged_not_delivered": len(set(acked_presses) - delivered_presses),
                   "duplicates": central.tracker.duplicates, "writes_back_after_s": writes_back_s,
                   "all_delivered_after_s": flow_back_s, "alert_cleared_after_s": alert_cleared_s,
                   "free_bytes_after_recovery": free_after, "integrity": rt.store.integrity_check()}
        report("disk_full", figures)
        assert missing == []
        assert set(acked_presses) <= delivered_presses
        assert dropped_types <= {"gateway.started"}
        assert figures["integrity"] == "ok"
        assert central.invalid == []
    finally:
        central.close()
