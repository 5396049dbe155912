"""A real clustered broker: three RabbitMQ nodes (MQTT plugin) on loopback, nodes lost under traffic.

Two `lobby gateway --simulate` processes with `[mqtt] hosts` listing the three nodes in
different orders (gateway A on node 1, gateway B on node 2), each reading three meters
every second, gateway A also taking the kiosk's check-ins, tickets and feedback from this
process; central consumes on node 3 with persistent sessions (clean_session = false, QoS 1;
`mqtt.durable_queue_type = quorum`, so its queue is replicated on every node).

1. Node kill: node 1's beam.smp is SIGKILLed mid-stream, then started again. Every seq the
   gateway had deleted after a PUBACK before the kill reaches central, and so does every
   other one; the gateway moves to node 2 (its `online` names the node), re-publishes its
   retained status and active alert there; a command from central (on node 3) still
   reaches it; when gateway B is killed, its will fires from node 2, the node it was on.
2. Rolling restart: each node in turn stopped (`rabbitmqctl stop`) and started again,
   waiting for the cluster to be whole before the next; central moves too.

Duplicates and the times are reported (build/reports/cluster_*.json), not asserted beyond
"finite". RabbitMQ's retained messages are kept per node (not replicated): a fresh
subscriber on each node is asked what it gets, and that is reported too.

One cluster for the module (started once, ~25 s), in one xdist group; the tests skip with
the reason where RabbitMQ cannot start (not installed, no epmd, a start that times out).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from lobby.config import load_config
from mqtt_bridge.store import Store, outbox
from tests.chaos.report import report
from tests.helpers.central import TimedCentral
from tests.helpers.gateway_rig import GatewayProcess, gateway_config, sim_dir, wait_path
from tests.helpers.lobby_load import LobbyProducer, delivered_lobby_ids
from tests.helpers.rabbit_cluster import RabbitCluster, RabbitNode, RabbitUnavailable

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("rabbitmq_cluster")]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitCluster]:
    reason = RabbitCluster.unavailable_reason()
    if reason:
        pytest.skip(reason)
    rabbit = RabbitCluster(tmp_path_factory.mktemp("rabbitmq"))
    try:
        rabbit.start()
    except RabbitUnavailable as exc:
        pytest.skip(f"RabbitMQ could not be started here: {exc}")
    try:
        yield rabbit
    finally:
        rabbit.stop()


class ClusterCentral(TimedCentral):
    """Central's consumer with a persistent session; when its node goes, it reconnects to the next."""

    def __init__(self, nodes: list[RabbitNode], first: int, base: str, client_id: str) -> None:
        self.ports = [n.mqtt_port for n in nodes]
        self._at = first
        self.moves = 0
        self.dots_split = 0  # alert topics that arrived with their dots turned into slashes
        self.statuses: list[tuple[float, dict[str, Any]]] = []  # (arrival, status payload)
        super().__init__(self.ports[first], base, client_id=client_id, clean=False)
        self.client.on_disconnect = self._next_node

    def _next_node(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self._at = (self._at + 1) % len(self.ports)
        self.moves += 1
        client._port = self.ports[self._at]  # noqa: SLF001 - paho's loop reconnects to _host:_port

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        # RabbitMQ hands a topic level's dots back as slashes (MQTT '/' <-> AMQP '.'): a
        # consumer on RabbitMQ puts the dots back in alert keys and command names.
        rel = msg.topic[len(self.base) + 1:]
        if rel.startswith("alerts/"):
            msg._topic = f"{self.base}/alerts/{rel[len('alerts/'):].replace('/', '.')}".encode()  # noqa: SLF001
            self.dots_split += "/" in rel[len("alerts/"):]
        elif rel.startswith("cmd/") and rel.endswith("/result"):
            msg._topic = f"{self.base}/cmd/{rel[4:-7].replace('/', '.')}/result".encode()  # noqa: SLF001
        if msg.topic == f"{self.base}/status" and msg.payload:
            with self.lock:
                self.statuses.append((time.monotonic(), json.loads(msg.payload)))
        super()._on_message(client, userdata, msg)

    def online_at_broker(self, broker: str, since: float) -> float | None:
        with self.lock:
            return next((t for t, s in self.statuses if t >= since and s["state"] == "online"
                         and s.get("broker") == broker), None)

    def messages_on(self, topic: str) -> int:
        with self.lock:
            return len(self.by_topic.get(topic, []))


def retained_at(node: RabbitNode, pattern: str | list[str], wait_s: float = 1.5) -> dict[str, bytes]:
    """What a fresh subscriber on this node is given as retained messages (RabbitMQ 3.x gives them
    only to subscriptions without wildcards, and only from the node's own store)."""
    patterns = [pattern] if isinstance(pattern, str) else pattern
    got: dict[str, bytes] = {}
    lock = threading.Lock()

    def on_message(c: Any, u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.retain:
            with lock:
                got[msg.topic] = msg.payload

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{node.index}-{time.monotonic_ns()}")
    client.on_message = on_message
    client.on_connect = lambda c, u, f, rc, p: c.subscribe([(t, 1) for t in patterns])
    client.connect("127.0.0.1", node.mqtt_port, 10)
    client.loop_start()
    time.sleep(wait_s)
    client.disconnect()
    client.loop_stop()
    with lock:
        return dict(got)


def mqtt5_refused(node: RabbitNode) -> bool:
    """RabbitMQ 3.x speaks MQTT 3.1/3.1.1 only: an MQTT 5 CONNECT is refused (3.13 adds MQTT 5)."""
    answer: dict[str, Any] = {}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="probe-v5", protocol=mqtt.MQTTv5)
    client.on_connect = lambda c, u, f, rc, p: answer.setdefault("rc", rc)
    client.on_disconnect = lambda c, u, f, rc, p: answer.setdefault("gone", rc)
    try:
        client.connect("127.0.0.1", node.mqtt_port, 10)
    except OSError:
        return True
    deadline = time.monotonic() + 5
    while not answer and time.monotonic() < deadline:
        client.loop(0.1)
    client.disconnect()
    rc = answer.get("rc")
    return rc is None or rc.is_failure


class Gateway:
    """One simulated gateway whose broker is the cluster, with its central on node 3."""

    def __init__(self, root: Path, cluster: RabbitCluster, gateway_id: str, order: list[int], central_node: int,
                 broker_kind: str = "rabbitmq", meters: bool = True) -> None:
        self.root = root
        self.order = [cluster.nodes[i] for i in order]
        self.state = root / f"state-{gateway_id}"
        self.config = root / f"{gateway_id}.toml"
        self.config.write_text(gateway_config(self.state, 1, gateway_id=gateway_id, meters=meters,
                                              mqtt_extra=f'broker_kind = "{broker_kind}"',
                                              hosts=[n.endpoint for n in self.order]))
        self.cfg = load_config(self.config)
        self.db = self.state / self.cfg.store.path
        Store(self.db).close()
        self.central = ClusterCentral(cluster.nodes, central_node, self.cfg.base_topic, f"central-{gateway_id}")
        self.process = GatewayProcess(self.config, root / f"{gateway_id}.log", log_level="INFO").start()

    def wait_online(self, broker: str, since: float, timeout: float = 60) -> float:
        ok = self.central.wait_for_safe(lambda: self.central.online_at_broker(broker, since) is not None, timeout)
        assert ok, f"{self.cfg.site.gateway_id} not online at {broker}: {self.log_tail()}"
        at = self.central.online_at_broker(broker, since)
        assert at is not None
        return at

    def acknowledged(self) -> set[int]:
        """Seqs the gateway has deleted after their PUBACK: every seq so far not in its outbox."""
        with Store(self.db) as store:
            conn = store.connection()
            with conn:  # one read transaction: last seq and the rows left agree
                last = outbox.last_seq(conn)
                left = {r[0] for r in conn.execute("SELECT seq FROM outbox WHERE seq <= ?", (last,))}
        return set(range(1, last + 1)) - left

    def drain(self, timeout: float = 120) -> int:
        with Store(self.db) as store:
            last = outbox.last_seq(store.connection())
        self.central.wait_seqs(last, timeout=timeout)
        return last

    def outbox_rows(self) -> int:
        with Store(self.db) as store:
            return int(store.scalar("SELECT count(*) FROM outbox"))

    def wait_outbox_empty(self, timeout: float = 30) -> int:
        """Rows left once central has everything: the PUBACK that deletes the last row may still be on
        its way back when central's copy arrives. The count left after `timeout` (0 when emptied)."""
        deadline = time.monotonic() + timeout
        while (left := self.outbox_rows()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return left

    def log_tail(self) -> str:
        path = self.root / f"{self.cfg.site.gateway_id}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def close(self) -> None:
        self.process.kill()
        self.central.close()


def _lost(central: ClusterCentral, seqs: set[int]) -> list[int]:
    with central.lock:
        missing = set(central.tracker.missing(max(seqs, default=0)))
    return sorted(seqs & missing)


def test_a_node_killed_mid_stream_loses_nothing_and_the_gateway_moves(cluster: RabbitCluster, tmp_path: Path) -> None:
    n1, n2, n3 = cluster.nodes
    a = Gateway(tmp_path, cluster, "gw-kill-a", [0, 1, 2], central_node=2)
    b = Gateway(tmp_path, cluster, "gw-kill-b", [1, 2, 0], central_node=2)
    # What this run found: as on any other broker (broker_kind "standard"), the gateway's command
    # subscription is QoS 1, which RabbitMQ makes a durable classic queue on node 1 even for a clean
    # session; while node 1 is down no node lets the gateway subscribe again, so it cannot move.
    c = Gateway(tmp_path, cluster, "gw-kill-c", [0, 1, 2], central_node=2, broker_kind="standard", meters=False)
    lobby: LobbyProducer | None = None
    try:
        t0 = time.monotonic()
        a.wait_online(n1.endpoint, 0)
        b.wait_online(n2.endpoint, 0)
        c.wait_online(n1.endpoint, 0)
        assert wait_path(sim_dir(a.state) / "meters.sock", 30, a.process)
        from drivers.sim.control import ControlClient

        with ControlClient(sim_dir(a.state) / "meters.sock") as meters:  # an active alert to keep retained
            assert meters.request({"cmd": "fault", "meter": "elec-a", "fault": "no_reply"})["ok"]
        alert_topic = f"{a.cfg.base_topic}/alerts/meter.offline:elec-a"
        assert a.central.wait_for_safe(lambda: bool(a.central.retained.get(alert_topic)), 30), "no alert raised"
        lobby = LobbyProducer(a.db, a.cfg, rate_hz=4)
        lobby.start()
        time.sleep(4)  # traffic flows through node 1 (gateway A) and node 2 (gateway B)

        acked_before_kill = a.acknowledged()
        alert_messages_before = a.central.messages_on(alert_topic)
        killed = time.monotonic()
        n1.kill()  # SIGKILL node 1's beam.smp: gateway A's node
        moved_at = a.wait_online(n2.endpoint, killed)
        time_to_move = moved_at - killed
        a.central.wait_for(lambda: a.central.messages_on(alert_topic) > alert_messages_before, 30,
                           "the alert published again after the move")
        offline_after_kill = [s for t, s in a.central.statuses if t >= killed and s["state"] == "offline"]
        ping = a.central.command("ping", timeout=30)  # central on node 3 -> gateway A on node 2
        assert ping["ok"] is True, ping
        # A command with a dot in its name (every one but ping): RabbitMQ delivers it as cmd/alert/ack.
        ack = a.central.command("alert.ack", {"key": "meter.offline:elec-a", "by": "ops"}, timeout=30)
        assert ack["ok"] is True, ack
        time.sleep(3)  # traffic through the surviving nodes
        qos1_moved = c.central.online_since(killed) is not None
        restart_s = cluster.restart_node(n1)
        c_back = c.central.wait_for_safe(lambda: c.central.online_since(killed) is not None, 60)
        time.sleep(3)  # and with node 1 back
        lobby.stop()

        status_topic = f"{a.cfg.base_topic}/status"
        wildcard = {f"node{n.index}": len(retained_at(n, f"{a.cfg.base_topic}/#")) for n in cluster.nodes}
        retained = {f"node{n.index}": retained_at(n, [status_topic, alert_topic]) for n in cluster.nodes}
        assert status_topic in retained["node2"] and len(retained["node2"]) == 2, retained  # status and the alert
        status_at_n2 = json.loads(retained["node2"][status_topic])
        assert status_at_n2["state"] == "online" and status_at_n2["broker"] == n2.endpoint

        last_a, last_b = a.drain(), b.drain()
        assert a.wait_outbox_empty() == 0 and b.wait_outbox_empty() == 0  # every row PUBACKed and deleted
        lost_acked = _lost(a.central, acked_before_kill)
        lost_a = a.central.tracker.missing(last_a)
        lost_b = b.central.tracker.missing(last_b)
        not_delivered = [x for x in lobby.acked if x not in delivered_lobby_ids(a.central)]

        # The will: gateway B killed while on node 2; node 2 publishes it, central (node 3) gets it.
        will_since = time.monotonic()
        b.process.kill()
        assert b.central.wait_for_safe(lambda: any(t >= will_since and s["state"] == "offline"
                                                   for t, s in b.central.statuses), 30), "no will from node 2"
        will = next(s for t, s in b.central.statuses if t >= will_since and s["state"] == "offline")

        figures = {
            "events_a": last_a, "events_b": last_b,
            "acknowledged_before_kill": len(acked_before_kill), "acknowledged_lost": len(lost_acked),
            "lost": len(lost_a) + len(lost_b),
            "duplicates": a.central.tracker.duplicates + b.central.tracker.duplicates,
            "lobby_actions_acknowledged": len(lobby.acked), "acknowledged_not_delivered": len(not_delivered),
            "time_to_move_s": round(time_to_move, 2), "node_restart_s": round(restart_s, 1),
            "offline_status_after_node_kill": len(offline_after_kill),
            "will_broker": will.get("broker"), "will_expected": n2.endpoint,
            "retained_seen_by_a_fresh_subscriber_exact_topics": {k: len(v) for k, v in retained.items()},
            "retained_seen_by_a_fresh_subscriber_wildcard": wildcard,
            "mqtt5_refused": mqtt5_refused(n2),
            "qos1_subscriber_online_elsewhere_while_its_node_was_down": qos1_moved,
            "qos1_subscriber_online_again_once_its_node_was_back": c_back,
            "alert_topics_with_dots_split_by_rabbitmq": a.central.dots_split,
            "run_s": round(time.monotonic() - t0, 1),
        }
        report("cluster_node_kill", figures)
        assert lost_acked == [], lost_acked[:20]
        assert lost_a == [] and lost_b == [], (lost_a[:20], lost_b[:20])
        assert not_delivered == [], not_delivered[:5]
        assert will.get("broker") == n2.endpoint
        assert a.central.tracker.duplicates >= 0 and len(lobby.acked) > 0
        assert a.central.invalid == [] and b.central.invalid == [], (a.central.invalid[:5], b.central.invalid[:5])
    finally:
        if lobby is not None and lobby.is_alive():
            lobby.stop()
        a.close()
        b.close()
        c.close()
        for node in cluster.nodes:  # a failed run leaves no node down for the next test
            if node.proc is None:
                cluster.restart_node(node)


def test_a_rolling_restart_of_every_node_loses_nothing(cluster: RabbitCluster, tmp_path: Path) -> None:
    a = Gateway(tmp_path, cluster, "gw-roll-a", [0, 1, 2], central_node=2)
    b = Gateway(tmp_path, cluster, "gw-roll-b", [1, 2, 0], central_node=2)
    lobby: LobbyProducer | None = None
    try:
        t0 = time.monotonic()
        a.wait_online(cluster.nodes[0].endpoint, 0)
        b.wait_online(cluster.nodes[1].endpoint, 0)
        lobby = LobbyProducer(a.db, a.cfg, rate_hz=4)
        lobby.start()
        time.sleep(3)
        restarts: list[float] = []
        moves: list[float] = []
        wills_seen = 0
        for node in cluster.nodes:
            on_it = [g for g in (a, b) if g.central.statuses and
                     [s for _, s in g.central.statuses if s["state"] == "online"][-1].get("broker") == node.endpoint]
            stopped = time.monotonic()
            node.stop()  # graceful, as an upgrade would
            for gateway in on_it:
                assert gateway.central.wait_for_safe(
                    lambda g=gateway: any(t >= stopped and s["state"] == "online" and s.get("broker") != node.endpoint
                                          for t, s in g.central.statuses), 60), \
                    f"{gateway.cfg.site.gateway_id} did not move off {node.name}: {gateway.log_tail()}"
                moves.append(next(t for t, s in gateway.central.statuses
                                  if t >= stopped and s["state"] == "online") - stopped)
            restarts.append(cluster.restart_node(node))
            time.sleep(2)
        lobby.stop()
        for gateway in (a, b):
            wills_seen += sum(1 for _, s in gateway.central.statuses if s["state"] == "offline")
        last_a, last_b = a.drain(), b.drain()
        lost_a, lost_b = a.central.tracker.missing(last_a), b.central.tracker.missing(last_b)
        not_delivered = [x for x in lobby.acked if x not in delivered_lobby_ids(a.central)]
        figures = {
            "events_a": last_a, "events_b": last_b, "lost": len(lost_a) + len(lost_b),
            "duplicates": a.central.tracker.duplicates + b.central.tracker.duplicates,
            "lobby_actions_acknowledged": len(lobby.acked), "acknowledged_not_delivered": len(not_delivered),
            "gateway_moves": len(moves), "time_to_move_max_s": round(max(moves, default=0.0), 2),
            "node_restart_s": [round(r, 1) for r in restarts],
            "central_reconnects": a.central.moves + b.central.moves,
            "offline_statuses_seen": wills_seen,
            "run_s": round(time.monotonic() - t0, 1),
        }
        report("cluster_rolling_restart", figures)
        assert lost_a == [] and lost_b == [], (lost_a[:20], lost_b[:20])
        assert not_delivered == [], not_delivered[:5]
        assert len(moves) >= 2  # each gateway had to leave its node once
        assert a.central.invalid == [] and b.central.invalid == [], (a.central.invalid[:5], b.central.invalid[:5])
    finally:
        if lobby is not None and lobby.is_alive():
            lobby.stop()
        a.close()
        b.close()
