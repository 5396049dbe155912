"""The bridge against a real mosquitto: delivery, lanes, history, retained state, commands."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from lobby.runtime import Runtime
from mqtt_bridge.store import outbox
from tests.helpers.broker import Broker
from tests.helpers.central import Central


def reading(i: int, meter: str = "m1") -> dict:
    return {"meter_id": meter, "kind": "electricity",
            "values": {"energy_total": {"value": float(i), "unit": "kWh", "quality": "good"}}}


def alert_like(i: int) -> dict:
    return {"version": "t", "config_version": i}


@pytest.fixture
def runtime(broker: Broker, make_config) -> Iterator[Runtime]:  # noqa: ANN001
    rt = Runtime(make_config(broker.port, discovery=True), None)
    yield rt
    rt.stop()


@pytest.fixture
def central(broker: Broker, runtime: Runtime) -> Iterator[Central]:
    c = Central(broker.port, runtime.cfg.base_topic)
    yield c
    c.close()
    assert c.invalid == [], c.invalid[:5]


def emit_bulk(rt: Runtime, n: int, start: int = 0) -> None:
    with rt.store.transaction() as tx:
        outbox.append_events(tx.conn, [("meter", "meter.reading", reading(start + i)) for i in range(n)])


def test_every_event_arrives_once_and_rows_are_deleted_after_puback(runtime: Runtime, central: Central) -> None:
    runtime.start()
    emit_bulk(runtime, 500)
    for i in range(20):
        runtime.store.emit("health", "gateway.started", {"version": "t", "config_version": i})
    runtime.bridge.wake()
    last = outbox.last_seq(runtime.store.connection())
    central.wait_seqs(last)
    central.wait_for(lambda: runtime.store.scalar("SELECT count(*) FROM outbox") == 0, what="outbox emptied")
    assert central.tracker.duplicates == 0
    assert runtime.store.scalar("SELECT value FROM counters WHERE name='published'") == last


def test_backlog_sends_critical_before_bulk_and_marks_it_historical(broker: Broker, runtime: Runtime) -> None:
    # Subscribed before the broker goes away (a persistent session): nothing the gateway
    # sends after the restart can be missed, however fast it reconnects.
    central = Central(broker.port, runtime.cfg.base_topic)
    broker.stop()
    runtime.start()  # cannot connect: everything below is backlog
    emit_bulk(runtime, 300)
    for i in range(30):
        runtime.store.emit("health", "gateway.started", alert_like(i))
    time.sleep(0.3)
    broker.start()
    try:
        central.wait_seqs(331)
        order = [e["type"] for e in central.events if e["type"] in ("gateway.started", "meter.reading")]
        first_bulk = order.index("meter.reading")
        # the runtime's own start event plus 30 critical ones all arrive before any reading
        assert order[:first_bulk].count("gateway.started") == 31
        assert all(e["historical"] for e in central.events if e["seq"] <= 331)
        live = runtime.store.emit("health", "gateway.started", alert_like(99))
        central.wait_seqs(live.seq)
        assert [e for e in central.events if e["seq"] == live.seq][0]["historical"] is False
    finally:
        central.close()
    assert central.invalid == []


def test_status_is_retained_online_then_offline_on_clean_stop(broker: Broker, runtime: Runtime, central: Central) -> None:
    runtime.start()
    topic = f"{runtime.cfg.base_topic}/status"
    central.wait_for(lambda: topic in central.retained, what="status")
    status = json.loads(central.retained[topic])
    assert status["state"] == "online" and status["version"] and status["boot_id"]
    runtime.bridge.stop()
    central.wait_for(lambda: json.loads(central.retained[topic])["state"] == "offline", what="offline status")


def test_alert_state_is_retained_and_cleared_with_an_empty_payload(runtime: Runtime, central: Central) -> None:
    runtime.start()
    topic = f"{runtime.cfg.base_topic}/alerts/meter.offline:m1"
    runtime.alerts.raise_alert("meter.offline:m1", "warning", "电表离线 Meter offline", {"reason": "timeout"})
    runtime.bridge.wake()
    central.wait_for(lambda: central.retained.get(topic, b"").startswith(b"{"), what="alert published")
    assert json.loads(central.retained[topic])["state"] == "active"
    # the same fault again is the same alert: counted, no new event
    runtime.alerts.raise_alert("meter.offline:m1", "warning", "电表离线 Meter offline")
    assert runtime.alerts.get("meter.offline:m1")["count"] == 2
    runtime.alerts.clear("meter.offline:m1")
    runtime.bridge.wake()
    central.wait_for(lambda: json.loads(central.retained[topic] or b"{}").get("state") == "cleared", what="cleared")
    result = central.command("alert.ack", {"key": "meter.offline:m1", "by": "control-room"})
    assert result["ok"] is True
    central.wait_for(lambda: central.retained[topic] == b"", what="empty retained payload")
    types = [e["type"] for e in central.events if e["type"].startswith("alert.")]
    assert types == ["alert.raised", "alert.cleared", "alert.acked"]


def test_retained_state_is_republished_to_a_broker_that_lost_everything(broker: Broker, runtime: Runtime) -> None:
    runtime.start()
    runtime.alerts.raise_alert("gateway.disk_low", "critical", "Disk nearly full", {"free_mb": 10})
    runtime.bridge.wake()
    time.sleep(0.5)
    broker.restart(wipe=True)  # empty persistence: no retained messages survive
    central = Central(broker.port, runtime.cfg.base_topic)
    try:
        base = runtime.cfg.base_topic
        central.wait_for(lambda: f"{base}/alerts/gateway.disk_low" in central.retained, what="alert re-published")
        central.wait_for(lambda: f"{base}/status" in central.retained, what="status re-published")
        central.wait_for(lambda: "homeassistant/device/gw-test/config" in central.by_topic, what="discovery")
    finally:
        central.close()


def test_discovery_is_resent_when_home_assistant_comes_online(runtime: Runtime, central: Central) -> None:
    runtime.start()
    topic = "homeassistant/device/gw-test/config"
    central.wait_for(lambda: len(central.by_topic.get(topic, [])) == 1, what="first discovery")
    doc = json.loads(central.by_topic[topic][0])
    assert doc["avty_t"].endswith("/status") and doc["cmps"]
    central.client.publish("homeassistant/status", b"online", qos=1)
    central.wait_for(lambda: len(central.by_topic.get(topic, [])) == 2, what="discovery re-sent")


def test_discovery_can_be_switched_off(broker: Broker, make_config) -> None:  # noqa: ANN001
    rt = Runtime(make_config(broker.port, discovery=False), None)
    central = Central(broker.port, rt.cfg.base_topic)
    try:
        rt.start()
        central.wait_for(lambda: f"{rt.cfg.base_topic}/status" in central.retained, what="status")
        time.sleep(0.3)
        assert not any(t.startswith("homeassistant/") for t in central.by_topic)
    finally:
        rt.stop()
        central.close()


def test_mqtt_5_works_end_to_end(broker: Broker, make_config) -> None:  # noqa: ANN001
    rt = Runtime(make_config(broker.port, mqtt_extra='protocol = "5"'), None)
    central = Central(broker.port, rt.cfg.base_topic)
    try:
        rt.start()
        emit_bulk(rt, 50)
        rt.bridge.wake()
        central.wait_seqs(51)
        assert central.command("ping", {})["ok"] is True
    finally:
        rt.stop()
        central.close()
    assert central.invalid == []


def test_bulk_over_budget_drops_oldest_with_an_event_and_an_alert(broker: Broker, make_config) -> None:  # noqa: ANN001
    rt = Runtime(make_config(broker.port, extra="[store]\nbulk_max_rows = 1000\n"), None)
    try:
        broker.stop()
        rt.start()
        emit_bulk(rt, 1500)
        critical = rt.store.emit("health", "gateway.started", alert_like(1))
        deadline = time.monotonic() + 10
        while rt.store.scalar("SELECT value FROM counters WHERE name='bulk_rows'") > 1000 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rt.store.scalar("SELECT value FROM counters WHERE name='bulk_rows'") == 900
        assert rt.store.scalar("SELECT count(*) FROM outbox WHERE seq = ?", (critical.seq,)) == 1  # critical kept
        broker.start()
        central = Central(broker.port, rt.cfg.base_topic)
        try:
            rt.bridge.wake()
            last = outbox.last_seq(rt.store.connection())
            central.wait_for(lambda: not central.tracker.missing(last), timeout=30, what="all seqs or announced drops")
            dropped = central.events_of("outbox.dropped")
            assert dropped and dropped[0]["data"]["count"] == 600 and dropped[0]["data"]["ranges"] == [[2, 601]]
            assert central.tracker.dropped_announced == 600
            assert rt.alerts.get("outbox.bulk_dropped")["state"] == "active"
        finally:
            central.close()
        assert central.invalid == []
    finally:
        rt.stop()


def _sizes(central: Central, topic: str) -> list[tuple[int, int]]:
    """(items, bytes) of each message received on a batch topic."""
    with central.lock:
        return [(len(json.loads(p)["items"]), len(p)) for p in central.by_topic.get(topic, [])]


def test_bulk_goes_in_batches_bounded_by_count_and_bytes_and_one_puback_deletes_all_their_rows(
        broker: Broker, make_config) -> None:  # noqa: ANN001
    rt = Runtime(make_config(broker.port, mqtt_extra="[mqtt.batch]\nmax_items = 40\nmax_bytes = 4096"), None)
    central = Central(broker.port, rt.cfg.base_topic)
    try:
        broker.stop()
        rt.start()  # offline: a backlog builds up, so the batches fill
        emit_bulk(rt, 1000)
        for i in range(10):
            rt.store.emit("health", "gateway.started", alert_like(i))
        time.sleep(0.3)
        broker.start()
        last = outbox.last_seq(rt.store.connection())
        central.wait_seqs(last)
        central.wait_for(lambda: rt.store.scalar("SELECT count(*) FROM outbox") == 0, what="outbox emptied")
        sizes = _sizes(central, f"{rt.cfg.base_topic}/batch/meter")
        assert sum(n for n, _ in sizes) == 1000 and central.batches == len(sizes)
        assert all(n <= 40 and size <= 4096 for n, size in sizes)
        assert max(n for n, _ in sizes) > 1  # batched, not one event a message
        # the critical lane stays one event per message, on events/
        with central.lock:
            singles = [json.loads(p) for p in central.by_topic.get(f"{rt.cfg.base_topic}/events/health", [])]
            assert not central.by_topic.get(f"{rt.cfg.base_topic}/events/meter")
        assert sorted(e["type"] for e in singles) == ["gateway.started"] * 11
        assert central.tracker.duplicates == 0
        # every row a PUBACK acknowledged was deleted and counted once
        assert rt.store.scalar("SELECT value FROM counters WHERE name='published'") == last
        assert rt.store.scalar("SELECT value FROM counters WHERE name='bulk_rows'") == 0
    finally:
        rt.stop()
        central.close()
    assert central.invalid == [], central.invalid[:5]


def test_with_batching_off_bulk_events_go_one_per_message(broker: Broker, make_config) -> None:  # noqa: ANN001
    rt = Runtime(make_config(broker.port, mqtt_extra="[mqtt.batch]\nenabled = false"), None)
    central = Central(broker.port, rt.cfg.base_topic)
    try:
        rt.start()
        emit_bulk(rt, 200)
        rt.bridge.wake()
        central.wait_seqs(201)
        assert central.batches == 0
        with central.lock:
            assert len(central.by_topic[f"{rt.cfg.base_topic}/events/meter"]) == 200
    finally:
        rt.stop()
        central.close()
    assert central.invalid == [], central.invalid[:5]


def test_home_assistant_reads_the_newest_live_values_from_retained_state_topics(
        broker: Broker, runtime: Runtime, central: Central) -> None:
    base = runtime.cfg.base_topic
    broker.stop()
    runtime.start()
    emit_bulk(runtime, 5, start=100)  # backlog: historical, never the live state
    time.sleep(0.3)
    broker.start()
    central.wait_seqs(6)
    emit_bulk(runtime, 3, start=1)
    with runtime.store.transaction() as tx:
        outbox.append_events(tx.conn, [("meter", "meter.reading", reading(7, "m2")),
                                       ("meter", "meter.reading", reading(9, "m1"))])
    report = {"uptime_s": 12, "outbox": {"critical": 0, "bulk": 0}}
    runtime.store.emit("health", "health.report", report, outbox.Lane.BULK)
    runtime.bridge.wake()
    central.wait_seqs(outbox.last_seq(runtime.store.connection()))
    central.wait_for(lambda: f"{base}/state/health/gateway" in central.retained, what="health state")
    central.wait_for(lambda: json.loads(central.retained.get(f"{base}/state/meter/m1", b"{}")).get("data", {})
                     .get("values", {}).get("energy_total", {}).get("value") == 9.0, what="newest m1 reading")
    m2 = json.loads(central.retained[f"{base}/state/meter/m2"])
    assert m2["data"]["values"]["energy_total"]["value"] == 7.0 and m2["historical"] is False
    with central.lock:
        m1_states = [json.loads(p) for p in central.by_topic[f"{base}/state/meter/m1"]]
    assert all(not s["historical"] and s["data"]["values"]["energy_total"]["value"] < 100 for s in m1_states)
    assert json.loads(central.retained[f"{base}/state/health/gateway"])["data"] == report
    # the discovery document points the health sensors there (meter sensors: tests/unit/test_contract.py)
    doc = json.loads(central.by_topic["homeassistant/device/gw-test/config"][-1])
    assert doc["cmps"]["uptime"]["stat_t"] == f"{base}/state/health/gateway"
