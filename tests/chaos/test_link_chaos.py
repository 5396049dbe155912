"""Link and broker chaos under steady load: nothing the gateway accepted is lost.

The gateway reaches the broker through a TCP proxy that is cut (connections reset)
and black-holed (bytes swallowed, connection left open: only keepalive/PUBACK
silence notices); the broker is paused with SIGSTOP (TCP hangs rather than resets)
and restarted gracefully. Central is a subscriber with
a persistent session. Every seq must arrive; duplicates are counted (at-least-once).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from lobby.config import parse_config
from lobby.runtime import Runtime
from mqtt_bridge.store import Lane, outbox
from tests.chaos.report import recovery_summary, report
from tests.helpers.site_config import site_toml
from tests.helpers.broker import Broker
from tests.helpers.central import Central
from tests.helpers.tcpproxy import TcpProxy

pytestmark = pytest.mark.slow

READING = {"meter_id": "m1", "kind": "electricity",
           "values": {"energy_total": {"value": 1.0, "unit": "kWh", "quality": "good"}}}


class Producer(threading.Thread):
    """Steady mixed load: every tick one transaction of bulk readings plus critical events."""

    def __init__(self, rt: Runtime, total: int, per_tick: int = 15, tick_s: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.rt, self.total, self.per_tick, self.tick_s = rt, total, per_tick, tick_s
        self.produced = 0
        self.last_seq = 0

    def run(self) -> None:
        while self.produced < self.total:
            n = min(self.per_tick, self.total - self.produced)
            bulk = max(n - 3, 0)
            with self.rt.store.transaction() as tx:
                records = outbox.append_events(tx.conn, [("meter", "meter.reading", READING)] * bulk, Lane.BULK)
                for _ in range(n - bulk):
                    records.append(tx.emit("health", "gateway.started", {"version": "chaos", "config_version": 1}))
            self.produced += n
            self.last_seq = max(r.seq for r in records)
            self.rt.bridge.wake()
            time.sleep(self.tick_s)


def _wait_link(rt: Runtime, up: bool, timeout: float = 30) -> float:
    start = time.monotonic()
    while rt.bridge.link_up != up and time.monotonic() - start < timeout:
        time.sleep(0.02)
    assert rt.bridge.link_up == up, f"link did not become {'up' if up else 'down'}"
    return time.monotonic() - start


def test_link_cut_blackholed_and_broker_restarted_loses_nothing(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "broker").start()
    proxy = TcpProxy(broker.port).start()
    cfg = parse_config(site_toml(state_dir=tmp_path / "state", port=proxy.port, extra="",
                                          mqtt_extra="", discovery="false"))
    central = Central(broker.port, cfg.base_topic, client_id="central-chaos", validate=False)
    rt = Runtime(cfg, None)
    rt.start()
    _wait_link(rt, True)
    total = 50_000
    producer = Producer(rt, total)
    producer.start()
    recoveries: list[float] = []
    faults = 0
    try:
        for round_ in range(12):
            time.sleep(0.8)
            if round_ % 3 == 0:
                proxy.cut()  # reset: the gateway sees it at once
                _wait_link(rt, False)
                time.sleep(0.5)
                proxy.restore()
            elif round_ % 3 == 1:
                proxy.blackhole()  # silence: only the missing PUBACKs / keepalive tell
                _wait_link(rt, False, timeout=40)
                proxy.restore()
            else:
                broker.pause()  # SIGSTOP: TCP stays up (the kernel ACKs), MQTT hangs
                try:
                    _wait_link(rt, False, timeout=40)
                finally:
                    broker.resume()
            faults += 1
            recoveries.append(_wait_link(rt, True))
            if round_ % 3 == 1:  # four graceful broker restarts between link faults
                connects = rt.bridge.status.connects
                restarted = time.monotonic()
                broker.restart()
                faults += 1
                # the gateway may already be back by the time restart() returns: count connections
                while rt.bridge.status.connects == connects and time.monotonic() - restarted < 30:
                    time.sleep(0.02)
                assert rt.bridge.status.connects > connects, "the gateway did not reconnect after a broker restart"
                _wait_link(rt, True)
                recoveries.append(time.monotonic() - restarted)
        producer.join(timeout=300)
        assert not producer.is_alive()
        last = outbox.last_seq(rt.store.connection())
        central.wait_seqs(last, timeout=240)
        acknowledged = rt.store.scalar("SELECT value FROM counters WHERE name = 'published'")
        figures = {
            "events_produced": last, "faults": faults, "acknowledged": acknowledged,
            "delivered_unique": central.tracker.unique, "lost": len(central.tracker.missing(last)),
            "duplicates": central.tracker.duplicates, "connections": rt.bridge.status.connects,
            **recovery_summary(recoveries),
        }
        report("link_chaos", figures)
        assert figures["lost"] == 0
        assert figures["delivered_unique"] == last
    finally:
        rt.stop()
        central.close()
        proxy.close()
        broker.stop()
