"""The bridge's connection to the broker: one paho client per connection, driven by hand.

The bridge thread runs paho's network loop itself (`network()`), so paho's callbacks
run on that thread too: PUBACKs are collected here and handed out by `acked()`,
incoming messages go straight to the `on_message` the bridge gave. A fresh paho
client is built for every connection, so nothing unacknowledged survives in paho:
retransmission after a reconnect comes from the outbox alone.

Several brokers (`[mqtt] hosts`, a cluster's nodes) are tried in order: a lost
connection is retried on the same node first, then on the next ones, each after a
short jittered pause; once every node has failed, the pause before the next round
grows (`reconnect_min_s` doubling up to `reconnect_max_s`). The will is set on each
connection, so it is the node the gateway is connected to that publishes it.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from mqtt_bridge.mqtt_client import build_client, explain_connect_error, status_payload
from mqtt_bridge.settings import BridgeSettings, Endpoint
from mqtt_bridge.timebase import rfc3339, utc_now
from mqtt_bridge.topics import Topics

log = logging.getLogger(__name__)


@dataclass
class BridgeStatus:
    link: str = "down"  # down | connecting | up
    connects: int = 0
    published: int = 0
    acked: int = 0
    last_error: str | None = None
    last_error_ts: str | None = None
    inflight: int = 0  # event messages (single events and batches) awaiting their PUBACK
    broker: str | None = None  # "host:port" of the broker connected to (or being tried)

    def note_error(self, message: str) -> None:
        self.last_error = message
        self.last_error_ts = rfc3339(utc_now())


@dataclass
class Tag:
    """What a message in flight was, so its PUBACK can be acted on."""

    kind: str  # event (a critical row) | bulk (a bulk row or a batch) | alert | result | status | other
    seqs: tuple[int, ...] = ()  # the outbox rows an event message carries
    key: str = ""
    version: int = 0
    then: Callable[[], None] | None = None  # a command's action, run once its answer is acknowledged


@dataclass
class _Connection:
    client: mqtt.Client
    connack: "queue.SimpleQueue[Any]" = field(default_factory=queue.SimpleQueue)
    lost: threading.Event = field(default_factory=threading.Event)


class Session:
    """At most one live connection; publishes at QoS 1 and remembers each message's tag."""

    def __init__(self, settings: BridgeSettings, topics: Topics, status: BridgeStatus, stop: threading.Event,
                 on_message: Callable[[str, bytes], None]) -> None:
        self.settings = settings
        self.topics = topics
        self.status = status
        self._stop = stop
        self._on_message = on_message
        self._conn: _Connection | None = None
        self._acks: list[int] = []
        self._inflight: dict[int, Tag] = {}
        self._attempt = 0  # full rounds of the endpoints that failed in a row
        self.endpoints: tuple[Endpoint, ...] = settings.mqtt.endpoints
        self._index = 0  # the endpoint tried next; it stays on the one connected to
        self._tried_in_round = 0

    @property
    def endpoint(self) -> Endpoint:
        return self.endpoints[self._index]

    @property
    def up(self) -> bool:
        return self._conn is not None

    @property
    def lost(self) -> bool:
        return self._conn is None or self._conn.lost.is_set()

    def mark_lost(self) -> None:
        if self._conn is not None:
            self._conn.lost.set()

    # ------------------------------------------------------------------ connecting

    def connect(self) -> bool:
        """One attempt on the current endpoint; on failure, move to the next one and sleep:
        briefly within a round of the endpoints, the growing backoff after a whole round."""
        self.status.link = "connecting"
        self.status.broker = str(self.endpoint)
        if self._try_connect():
            self._attempt = 0
            self._tried_in_round = 0
            self.status.connects += 1
            self.status.link = "up"
            return True
        self.status.link = "down"
        mqtt_cfg = self.settings.mqtt
        self._index = (self._index + 1) % len(self.endpoints)
        self._tried_in_round += 1
        if self._tried_in_round < len(self.endpoints):
            base = mqtt_cfg.reconnect_min_s  # another node may be up: try it soon
        else:
            self._tried_in_round = 0
            self._attempt += 1
            base = min(mqtt_cfg.reconnect_max_s, mqtt_cfg.reconnect_min_s * 2 ** min(self._attempt - 1, 20))
        self._stop.wait(random.uniform(base / 2, base))  # jitter: a fleet does not reconnect in lockstep
        return False

    def _try_connect(self) -> bool:
        try:
            client = build_client(self.settings, self.topics, broker=str(self.endpoint))
        except (OSError, ValueError) as exc:
            self._fail(explain_connect_error(exc, self.settings, self.endpoint))
            return False
        conn = _Connection(client)
        client.on_connect = lambda c, u, flags, rc, props: conn.connack.put(rc)
        client.on_disconnect = lambda c, u, flags, rc, props: (conn.lost.set(), conn.connack.put(rc))
        client.on_publish = lambda c, u, mid, rc, props: self._acks.append(mid)
        client.on_message = lambda c, u, msg: self._on_message(msg.topic, msg.payload)
        client.connect_timeout = 5.0
        mqtt_cfg = self.settings.mqtt
        endpoint = self.endpoint
        try:
            client.connect(endpoint.host, endpoint.port, keepalive=mqtt_cfg.keepalive_s)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a plain log line and a retry
            self._fail(explain_connect_error(exc, self.settings, endpoint))
            return False
        deadline = time.monotonic() + max(5.0, mqtt_cfg.keepalive_s)
        rc = None
        while rc is None and time.monotonic() < deadline and not self._stop.is_set():
            if client.loop(0.1) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                conn.lost.set()
            try:
                rc = conn.connack.get_nowait()
            except queue.Empty:
                if conn.lost.is_set():
                    break
        if rc is None or rc.is_failure or conn.lost.is_set():
            reason = "no CONNACK from the broker" if rc is None else f"broker refused the connection: {rc}"
            self.status.note_error(reason)
            log.error("connecting to %s failed: %s", endpoint, reason)
            self._close_client(client)
            return False
        self._conn = conn
        self._acks.clear()
        self._inflight.clear()
        return True

    def _fail(self, message: str) -> None:
        self.status.note_error(message)
        log.error("%s", message)

    def subscribe(self, topic: str) -> None:
        assert self._conn is not None
        self._conn.client.subscribe(topic, qos=0 if self.settings.mqtt.broker_kind == "rabbitmq" else 1)

    def close(self) -> None:
        """Drop the connection (if any) and forget everything in flight."""
        conn, self._conn = self._conn, None
        if conn is not None:
            self._close_client(conn.client)
        self._inflight.clear()
        self._acks.clear()

    @staticmethod
    def _close_client(client: mqtt.Client) -> None:
        try:
            client.disconnect()
            client.loop(0.01)  # write the DISCONNECT and close the socket
        except Exception:  # noqa: BLE001 - the socket may already be gone
            pass
        sock = client.socket()
        if sock is not None:
            sock.close()

    # ------------------------------------------------------------------ traffic

    def network(self, timeout: float) -> None:
        """Let paho read, write and keep the connection alive; callbacks run here."""
        assert self._conn is not None
        if self._conn.client.loop(timeout) != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._conn.lost.set()

    def publish(self, topic: str, payload: bytes, tag: Tag, *, retain: bool = False) -> bool:
        """QoS 1; False (and the link marked lost) if paho refused it."""
        assert self._conn is not None
        info = self._conn.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._conn.lost.set()
            return False
        self._inflight[info.mid] = tag
        self.status.published += 1
        return True

    def acked(self) -> list[Tag]:
        """The tags of the messages whose PUBACK arrived since the last call."""
        if not self._acks:
            return []
        mids, self._acks = self._acks, []
        tags = [tag for tag in map(self._inflight.pop, mids, [None] * len(mids)) if tag is not None]
        self.status.acked += len(tags)
        return tags

    def publish_offline(self, wait_s: float = 1.0) -> None:
        """A clean stop: the retained `offline` status, waited for briefly."""
        conn = self._conn
        if conn is None or conn.lost.is_set():
            return
        info = conn.client.publish(self.topics.status, status_payload("offline", str(self.endpoint)), qos=1, retain=True)
        deadline = time.monotonic() + wait_s
        while not info.is_published() and time.monotonic() < deadline and not conn.lost.is_set():
            self.network(0.02)
