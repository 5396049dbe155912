"""Process chaos: the bridge killed mid-stream, the broker killed, a huge backlog drained."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lobby.config import load_config, parse_config
from lobby.runtime import Runtime
from mqtt_bridge.pump import BULK_SHARE
from mqtt_bridge.store import Store, outbox
from tests.chaos.report import recovery_summary, report
from tests.helpers.site_config import site_toml
from tests.helpers.broker import Broker
from tests.helpers.central import Central

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
READING = {"meter_id": "m1", "kind": "electricity",
           "values": {"energy_total": {"value": 1.0, "unit": "kWh", "quality": "good"}}}


class StoreProducer(threading.Thread):
    """Another process's worth of producer (its own Store handle on the shared file)."""

    def __init__(self, db: Path, per_tick: int = 6, tick_s: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.store = Store(db, busy_timeout_ms=30_000)
        self.per_tick, self.tick_s = per_tick, tick_s
        self.stop_flag = threading.Event()
        self.acknowledged: list[int] = []

    def run(self) -> None:
        while not self.stop_flag.is_set():
            with self.store.transaction() as tx:
                records = outbox.append_events(tx.conn, [("meter", "meter.reading", READING)] * (self.per_tick - 1))
                records.append(tx.emit("health", "gateway.started", {"version": "chaos", "config_version": 1}))
            self.acknowledged.extend(r.seq for r in records)  # committed: the caller was told "done"
            time.sleep(self.tick_s)
        self.store.close()


def _bridge_process(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "lobby.cli", "--log-level", "WARNING", "bridge",
                             "--config", str(config)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_the_bridge_20_times(broker: Broker, write_config, mqtt_extra: str, name: str) -> dict:  # noqa: ANN001
    """`lobby bridge` SIGKILLed 20 times at random moments under a steady producer, then
    run to the end: no committed event may be lost, and what was re-sent is counted."""
    config = write_config(broker.port, mqtt_extra=mqtt_extra)
    cfg = load_config(config)
    db = Path(cfg.state_dir) / cfg.store.path
    Store(db).close()
    central = Central(broker.port, cfg.base_topic, client_id=f"central-{name}", validate=False)
    producer = StoreProducer(db)
    producer.start()
    rng = random.Random(7)
    kills = 0
    try:
        for _ in range(20):
            proc = _bridge_process(config)
            time.sleep(rng.uniform(0.8, 2.0))  # start-up, connect, and some publishing
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
        producer.stop_flag.set()
        producer.join()
        proc = _bridge_process(config)
        try:
            last = max(producer.acknowledged)
            central.wait_seqs(last, timeout=120)
        finally:
            proc.terminate()
            proc.wait(10)
        with Store(db) as store:
            integrity = store.integrity_check()
            published = store.scalar("SELECT value FROM counters WHERE name='published'")
        missing = [s for s in producer.acknowledged if not central.tracker.has(s)]
        batch, window = cfg.mqtt.batch, cfg.mqtt.inflight
        # The most rows one kill can leave sent but not deleted: a window of messages, each one
        # event (critical, or bulk with batching off), of which at most window // BULK_SHARE
        # may be batches of max_items.
        bulk_window = max(1, window // BULK_SHARE) if batch.enabled else 0
        window_events = (window - bulk_window) + bulk_window * batch.max_items
        figures = {"events_produced": last, "acknowledged_to_producer": len(producer.acknowledged),
                   "sigkills": kills, "delivered_unique": central.tracker.unique, "lost": len(missing),
                   "duplicates": central.tracker.duplicates, "duplicates_per_kill": central.tracker.duplicates / kills,
                   "window_events": window_events, "batches": central.batches, "integrity": integrity,
                   "rows_deleted_after_puback": published}
        report(name, figures)
        assert integrity == "ok"
        assert missing == []
        # Acknowledged rows are deleted (durably against a crash) before the window is filled
        # again, so the re-sends of all the kills together stay within one window each.
        assert central.tracker.duplicates <= kills * window_events, figures
        return figures
    finally:
        producer.stop_flag.set()
        central.close()


def test_bridge_killed_20_times_mid_stream_loses_nothing(tmp_path: Path, broker: Broker, write_config) -> None:  # noqa: ANN001
    figures = _kill_the_bridge_20_times(broker, write_config, "", "bridge_sigkill")
    assert figures["batches"] > 0  # the bulk lane went in batches (the default)


def test_bridge_killed_20_times_resends_at_most_its_window_of_single_events(
        tmp_path: Path, broker: Broker, write_config) -> None:  # noqa: ANN001
    """Batching off, a window of 20: each event its own message, so a kill may re-send at
    most 20 events (before acknowledgements were made durable at once: 105 a kill)."""
    figures = _kill_the_bridge_20_times(broker, write_config, "inflight = 20\n[mqtt.batch]\nenabled = false",
                                        "bridge_sigkill_single")
    assert figures["batches"] == 0 and figures["window_events"] == 20


def test_broker_sigkill_losses_are_reported_apart(tmp_path: Path) -> None:
    """A broker killed with SIGKILL may lose what it acknowledged but had not yet
    delivered or saved: that is the broker's loss, reported separately."""
    broker = Broker(tmp_path / "broker").start()
    cfg = parse_config(site_toml(state_dir=tmp_path / "state", port=broker.port, extra="",
                                          mqtt_extra="", discovery="false"))
    central = Central(broker.port, cfg.base_topic, client_id="central-bk", validate=False)
    rt = Runtime(cfg, None)
    rt.start()
    producer = StoreProducer(Path(cfg.state_dir) / cfg.store.path)
    producer.start()
    recoveries: list[float] = []
    try:
        for _ in range(3):
            time.sleep(1.5)
            broker.kill()
            killed_at = time.monotonic()
            time.sleep(0.3)
            broker.start()
            while not rt.bridge.link_up:
                time.sleep(0.02)
            recoveries.append(time.monotonic() - killed_at)
        time.sleep(1.0)
        producer.stop_flag.set()
        producer.join()
        last = max(producer.acknowledged)
        deadline = time.monotonic() + 60
        while rt.store.scalar("SELECT 1 FROM outbox LIMIT 1") and time.monotonic() < deadline:
            time.sleep(0.05)
        gateway_pending = rt.store.scalar("SELECT count(*) FROM outbox")
        time.sleep(2.0)  # let the broker hand over what it still holds
        missing = central.tracker.missing(last)
        figures = {"events_produced": last, "broker_sigkills": 3,
                   "gateway_unacknowledged": gateway_pending,  # the gateway's responsibility: must be 0
                   "delivered_unique": central.tracker.unique, "lost_by_broker": len(missing),
                   "duplicates": central.tracker.duplicates, **recovery_summary(recoveries)}
        report("broker_sigkill", figures)
        assert gateway_pending == 0  # every event was handed over and acknowledged by the broker
    finally:
        producer.stop_flag.set()
        rt.stop()
        central.close()
        broker.stop()


def test_large_backlog_drains_while_live_critical_events_go_first(tmp_path: Path) -> None:
    rows = int(os.environ.get("LOBBY_BACKLOG_ROWS", "200000"))  # bench/bridge_bench.py runs 1,000,000
    broker = Broker(tmp_path / "broker").start()
    cfg = parse_config(site_toml(state_dir=tmp_path / "state", port=broker.port, extra="",
                                          mqtt_extra="", discovery="false"))
    broker.stop()  # the consumer side is away for a long time
    rt = Runtime(cfg, None)
    for first in range(0, rows, 5000):
        with rt.store.transaction() as tx:
            outbox.append_events(tx.conn, [("meter", "meter.reading", READING)] * min(5000, rows - first))
    broker.start()
    central = Central(broker.port, cfg.base_topic, client_id="central-drain", validate=False)
    injected: list[int] = []
    try:
        rt.start()
        while rt.store.scalar("SELECT value FROM counters WHERE name='bulk_rows'") == rows:
            time.sleep(0.01)
        started = time.monotonic()
        while rt.store.scalar("SELECT value FROM counters WHERE name='bulk_rows'") > rows // 10:
            injected.append(rt.store.emit("health", "gateway.started", {"version": "live", "config_version": 1}).seq)
            rt.bridge.wake()
            time.sleep(0.05)
        last = outbox.last_seq(rt.store.connection())
        central.wait_seqs(last, timeout=600)
        drain_s = time.monotonic() - started
        arrival = central.arrival
        # Ordering, not timing: each live critical event overtook the backlog, arriving
        # before the bulk readings that were queued ahead of it but sent last.
        last_bulk_arrival = max(arrival[s] for s in range(2, rows + 2))
        overtook = sum(1 for s in injected if arrival[s] < last_bulk_arrival)
        figures = {"backlog_rows": rows, "drain_s": drain_s, "rows_per_s": rows / drain_s,
                   "live_critical_injected": len(injected), "critical_before_backlog_end": overtook,
                   "lost": len(central.tracker.missing(last)), "duplicates": central.tracker.duplicates}
        report("backlog_drain", figures)
        assert figures["lost"] == 0
        assert overtook == len(injected) > 0
    finally:
        rt.stop()
        central.close()
        broker.stop()

