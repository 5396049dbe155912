"""`[mqtt] hosts`: several brokers tried in order; the gateway moves to the next when its broker goes.

Two independent mosquittos stand in for two nodes (tests/chaos/test_cluster_chaos.py runs a real
RabbitMQ cluster). Central subscribes on both, as a cluster would route to it wherever it is.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from lobby.config import parse_config
from lobby.gateway.health import HealthMonitor, SystemSample
from lobby.runtime import Runtime
from mqtt_bridge.settings import Endpoint, MqttConfig
from mqtt_bridge.store import outbox
from tests.helpers.broker import Broker, free_port
from tests.helpers.central import Central
from tests.helpers.site_config import site_toml


def test_a_single_host_is_one_endpoint_and_hosts_fill_host_and_port() -> None:
    assert MqttConfig(host="mqtt.example.com", port=8883).endpoints == (Endpoint("mqtt.example.com", 8883),)
    cluster = MqttConfig(hosts=["n1.example.com:8883", "n2.example.com", "[fd00::3]:1883"], port=8884)
    assert cluster.endpoints == (Endpoint("n1.example.com", 8883), Endpoint("n2.example.com", 8884),
                                 Endpoint("fd00::3", 1883))
    assert (cluster.host, cluster.port) == ("n1.example.com", 8883)  # what "the broker" means to older code
    assert [str(e) for e in cluster.endpoints] == ["n1.example.com:8883", "n2.example.com:8884", "[fd00::3]:1883"]
    assert MqttConfig(**cluster.model_dump()).endpoints == cluster.endpoints  # a dump reads back the same


@pytest.mark.parametrize("bad, words", [
    ({"host": "a", "hosts": ["b:1"]}, "not both"),
    ({"hosts": ["n1:1883", "n1:1883"]}, "same broker twice"),
    ({"hosts": ["not a host"]}, "not a broker address"),
    ({"hosts": ["n1:99999"]}, "port"),
    ({"hosts": []}, "at least 1"),
])
def test_bad_hosts_are_refused_with_the_reason(bad: dict, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        MqttConfig(**bad)


def _config(tmp_path: Path, hosts: list[str]) -> str:
    return site_toml(tmp_path / "state", reconnect_max_s=1, hosts=hosts)


def test_the_gateway_moves_to_the_next_broker_and_reports_which(tmp_path: Path) -> None:
    first, second = Broker(tmp_path / "b1").start(), Broker(tmp_path / "b2").start()
    dead = free_port()  # nothing listens here: tried first, then skipped
    cfg = parse_config(_config(tmp_path, [f"127.0.0.1:{dead}", f"127.0.0.1:{first.port}",
                                          f"127.0.0.1:{second.port}"]), "test.toml")
    central1 = Central(first.port, cfg.base_topic, client_id="central-b1")
    central2 = Central(second.port, cfg.base_topic, client_id="central-b2")
    rt = Runtime(cfg, None)
    try:
        rt.start()
        central1.wait_for(lambda: f"{cfg.base_topic}/status" in central1.retained, what="online on the first live broker")
        status = json.loads(central1.retained[f"{cfg.base_topic}/status"])
        assert status["state"] == "online" and status["broker"] == f"127.0.0.1:{first.port}"
        assert rt.bridge.broker == f"127.0.0.1:{first.port}"
        for i in range(20):
            rt.store.emit("health", "gateway.started", {"version": "t", "config_version": i})
        rt.bridge.wake()
        central1.wait_seqs(outbox.last_seq(rt.store.connection()))

        first.kill()  # the node goes; the gateway must move on to the next one
        for i in range(20):
            rt.store.emit("health", "gateway.started", {"version": "t", "config_version": 100 + i})
        rt.bridge.wake()
        central2.wait_for(lambda: f"{cfg.base_topic}/status" in central2.retained, timeout=30,
                          what="online on the second broker")
        status = json.loads(central2.retained[f"{cfg.base_topic}/status"])
        assert status["state"] == "online" and status["broker"] == f"127.0.0.1:{second.port}"
        last = outbox.last_seq(rt.store.connection())

        def everything_somewhere() -> bool:
            with central1.lock:
                gone = set(central1.tracker.missing(last))
            return not gone.intersection(central2.tracker.missing(last))

        central2.wait_for(everything_somewhere, what="every event at one broker or the other")
        assert rt.bridge.broker == f"127.0.0.1:{second.port}"

        # health.report names the broker, and null while the link is down
        monitor = HealthMonitor(cfg, rt.store, rt.alerts, lambda: rt.bridge.link_up, lambda: [],
                                read=lambda _d: SystemSample(1.0, None, 0.1, None, 50.0, True),
                                broker=lambda: rt.bridge.broker)
        assert monitor.run_once()["broker"] == f"127.0.0.1:{second.port}"
        down = HealthMonitor(cfg, rt.store, rt.alerts, lambda: False, lambda: [],
                             read=lambda _d: SystemSample(1.0, None, 0.1, None, 50.0, True), broker=lambda: "x:1")
        assert down.run_once()["broker"] is None
        rt.bridge._save_stats()  # noqa: SLF001 - what `lobby outbox` and the staff screen read
        assert json.loads(rt.store.get_meta("bridge.status") or "{}")["broker"] == f"127.0.0.1:{second.port}"
    finally:
        rt.stop()
        for c in (central1, central2):
            c.close()
            assert c.invalid == [], c.invalid[:5]
        second.stop()
        first.stop()


def test_the_will_is_set_on_each_connection_and_names_its_broker(tmp_path: Path) -> None:
    """The will belongs to the connection: the node the gateway is connected to publishes it.
    (The cluster chaos test sees it fire from a RabbitMQ node when the gateway is killed.)"""
    from mqtt_bridge.mqtt_client import build_client
    from mqtt_bridge.publisher import topics_for

    cfg = parse_config(_config(tmp_path, ["127.0.0.1:1883", "127.0.0.1:1884"]), "test.toml")
    for endpoint in cfg.mqtt.endpoints:
        client = build_client(cfg.bridge, topics_for(cfg.bridge), broker=str(endpoint))
        will = json.loads(client._will_payload)  # noqa: SLF001 - paho keeps the will here
        assert client._will_topic == f"{cfg.base_topic}/status".encode()  # noqa: SLF001
        assert will["state"] == "offline" and will["broker"] == str(endpoint)
