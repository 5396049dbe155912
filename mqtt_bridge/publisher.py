"""The bridge: drains the outbox to the central broker and takes its commands.

Threading: one bridge thread does everything: it runs paho's network loop
itself (no loop_start thread), publishes, handles PUBACKs and commands, and owns
the outbox cursor, the in-flight window and all store writes. Nothing is shared
with another thread but the wake-up flag, so there are no locks to get wrong and
no per-message hand-over between threads (which, under the GIL, was the largest
cost of publishing). A fresh paho client is built for every connection, so retransmission after a
reconnect comes from the outbox alone: a row is deleted only after its PUBACK,
and anything unacknowledged is simply published again (at-least-once; consumers
de-duplicate by id).

Critical rows are fetched before bulk rows every time the window has room, so
live tickets and alerts overtake a meter backlog of any size.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
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

from mqtt_bridge import budget as bulk_budget
from mqtt_bridge.alerts import AlertEngine, retained_payload
from mqtt_bridge.commands import CommandIntake
from mqtt_bridge.settings import BridgeSettings
from mqtt_bridge.mqtt_client import build_client, explain_connect_error, status_payload
from mqtt_bridge.store import Lane, Store, StoreError
from mqtt_bridge.store import outbox
from mqtt_bridge.store.outbox import EventRecord
from mqtt_bridge.timebase import BOOT_ID, clock_synchronised, monotonic_ns, rfc3339, utc_now
from mqtt_bridge.topics import Topics

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.1  # acknowledged rows are deleted in batches: one fsync per batch
FLUSH_ROWS = 1000
CRITICAL_POLL_S = 0.01  # how often the critical lane is re-read while bulk rows are flowing
BULK_CHUNK = 1000  # bulk rows read from the store at a time
ALERT_SYNC_S = 0.25
IDLE_POLL_S = 0.05
ACK_WAIT_S = 0.02
BUDGET_INTERVAL_S = 1.0
STATS_INTERVAL_S = 5.0


@dataclass
class BridgeStatus:
    link: str = "down"  # down | connecting | up
    connects: int = 0
    published: int = 0
    acked: int = 0
    last_error: str | None = None
    last_error_ts: str | None = None
    inflight: int = 0


@dataclass
class _Inflight:
    kind: str  # event | alert | status | other
    seq: int = 0
    key: str = ""
    version: int = 0


@dataclass
class _Connection:
    client: mqtt.Client
    connack: "queue.SimpleQueue[Any]" = field(default_factory=queue.SimpleQueue)
    lost: threading.Event = field(default_factory=threading.Event)


def topics_for(cfg: BridgeSettings) -> Topics:
    return Topics(cfg.base_topic, cfg.mqtt.discovery.prefix, cfg.gateway_id)


class Bridge:
    """Store-and-forward to the central broker. `start()` runs it on its own thread."""

    def __init__(self, settings: BridgeSettings, store: Store, alerts: AlertEngine, intake: CommandIntake | None = None,
                 discovery: Callable[[], dict[str, Any] | None] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.alerts = alerts
        self.intake = intake
        self.discovery = discovery
        self.topics = topics_for(settings)
        self.status = BridgeStatus()
        self.budget = bulk_budget.budget_from_settings(settings)
        self.window = settings.mqtt.inflight
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._acks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._incoming: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self._conn: _Connection | None = None
        self._inflight: dict[int, _Inflight] = {}
        self._events_inflight = 0
        self._alerts_inflight: dict[str, int] = {}
        self._cursor = {Lane.CRITICAL: 0, Lane.BULK: 0}  # last seq handed to paho, per lane
        self._bulk_buffer: collections.deque[EventRecord] = collections.deque()
        self._bulk_fetched = 0  # last bulk seq read into the buffer
        self._last_critical_poll = 0.0
        self._last_alert_sync = 0.0
        self._last_progress = 0.0  # when a PUBACK last arrived, or the window last went from empty to busy
        self._live_from_seq = 0
        self._pending_deletes: list[int] = []
        self._last_flush = 0.0
        self._last_budget = 0.0
        self._last_stats = 0.0
        self._republish_alerts = True
        self._attempt = 0
        self.on_link_change: Callable[[bool], None] | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-bridge", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """New rows are in the outbox (called by in-process producers; others are polled)."""
        self._wake.set()

    def stop(self, flush_timeout_s: float = 2.0) -> None:
        """Stop: wait briefly for in-flight PUBACKs, mark offline, disconnect."""
        self._flush_timeout_s = flush_timeout_s
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=flush_timeout_s + 5)

    @property
    def link_up(self) -> bool:
        return self.status.link == "up"

    # ------------------------------------------------------------------ main loop

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._conn is None:
                    self._connect_with_backoff()
                    continue
                self._serve_once()
            except Exception as exc:  # keep the bridge alive whatever happens
                log.exception("bridge loop error; reconnecting")
                self._note_error(f"internal error: {exc}")
                self._teardown()
                self._sleep(1.0)
        self._shutdown()

    def _network(self, timeout: float) -> None:
        """Let paho read, write and keep the connection alive; callbacks run here."""
        assert self._conn is not None
        rc = self._conn.client.loop(timeout)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._conn.lost.set()

    def _serve_once(self) -> None:
        assert self._conn is not None
        if self._events_inflight or self._pending_deletes:
            # Waiting for PUBACKs: select() returns as soon as one arrives.
            self._network(0.0 if self._wake.is_set() else ACK_WAIT_S)
        else:
            # Idle: a commit in this process wakes us at once; the kiosk's rows and
            # commands from central are picked up within IDLE_POLL_S.
            self._wake.wait(IDLE_POLL_S)
            self._network(0.0)
        self._wake.clear()
        self._drain_acks()
        self._drain_incoming()
        if self._events_inflight and time.monotonic() - self._last_progress > self.settings.mqtt.keepalive_s:
            # A link that swallows traffic without closing (a dead NAT, a cable pulled
            # behind a switch) never errors; PUBACKs that stop coming are the sign.
            log.warning("no PUBACK for %d s with %d events in flight: treating the link as dead",
                        self.settings.mqtt.keepalive_s, self._events_inflight)
            self._conn.lost.set()
        if self._conn.lost.is_set():
            self._note_error("connection to the broker lost")
            log.warning("connection to %s:%d lost; will reconnect", self.settings.mqtt.host, self.settings.mqtt.port)
            self._teardown()
            return
        now = time.monotonic()
        if self._pending_deletes and (len(self._pending_deletes) >= FLUSH_ROWS or now - self._last_flush >= FLUSH_INTERVAL_S):
            self._flush_deletes()
        self._fill_window()
        if self._republish_alerts or now - self._last_alert_sync >= ALERT_SYNC_S:
            self._last_alert_sync = now
            self._sync_alerts()
        if now - self._last_budget >= BUDGET_INTERVAL_S:
            self._last_budget = now
            self._enforce_budget()
        if now - self._last_stats >= STATS_INTERVAL_S:
            self._last_stats = now
            self._save_stats()

    # ------------------------------------------------------------------ connecting

    def _connect_with_backoff(self) -> None:
        # The budget also applies while offline: that is when the backlog grows.
        if time.monotonic() - self._last_budget >= BUDGET_INTERVAL_S:
            self._last_budget = time.monotonic()
            self._enforce_budget()
        self.status.link = "connecting"
        if self._try_connect():
            self._attempt = 0
            return
        self.status.link = "down"
        self._attempt += 1
        base = min(self.settings.mqtt.reconnect_max_s, self.settings.mqtt.reconnect_min_s * 2 ** min(self._attempt - 1, 20))
        delay = random.uniform(base / 2, base)  # jitter: a fleet does not reconnect in lockstep
        self._sleep(delay)

    def _try_connect(self) -> bool:
        try:
            client = build_client(self.settings, self.topics)
        except (OSError, ValueError) as exc:
            self._note_error(explain_connect_error(exc, self.settings))
            log.error("%s", self.status.last_error)
            return False
        conn = _Connection(client)
        client.on_connect = lambda c, u, flags, rc, props: conn.connack.put(rc)
        client.on_disconnect = lambda c, u, flags, rc, props: (conn.lost.set(), conn.connack.put(rc))
        client.on_publish = lambda c, u, mid, rc, props: self._acks.put(mid)
        client.on_message = lambda c, u, msg: self._incoming.put((msg.topic, msg.payload))
        client.connect_timeout = 5.0
        try:
            client.connect(self.settings.mqtt.host, self.settings.mqtt.port, keepalive=self.settings.mqtt.keepalive_s)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a plain log line and a retry
            self._note_error(explain_connect_error(exc, self.settings))
            log.error("%s", self.status.last_error)
            return False
        deadline = time.monotonic() + max(5.0, self.settings.mqtt.keepalive_s)
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
            self._note_error(reason)
            log.error("connecting to %s:%d failed: %s", self.settings.mqtt.host, self.settings.mqtt.port, reason)
            self._close_client(client)
            return False
        self._conn = conn
        self._on_connected(client)
        return True

    def _on_connected(self, client: mqtt.Client) -> None:
        self.status.connects += 1
        self.status.link = "up"
        conn = self.store.connection()
        self._live_from_seq = outbox.last_seq(conn)
        self._reset_cursors()
        self._republish_alerts = True
        backlog = {lane.name.lower(): d.rows for lane, d in outbox.depth(conn).items()}
        log.info("connected to %s:%d (MQTT %s); backlog %s", self.settings.mqtt.host, self.settings.mqtt.port,
                 self.settings.mqtt.protocol, backlog)
        client.subscribe(self.topics.commands, qos=1)
        if self.settings.mqtt.discovery.enabled:
            client.subscribe(self.topics.ha_status, qos=1)
        self._publish(self.topics.status, status_payload("online"), retain=True, tag=_Inflight("status"))
        self._publish_discovery()
        if self.on_link_change:
            self.on_link_change(True)

    def _teardown(self) -> None:
        conn, self._conn = self._conn, None
        self._drain_acks()
        self._flush_deletes()
        if conn is not None:
            self._close_client(conn.client)
        self._inflight.clear()
        self._reset_cursors()
        self._alerts_inflight.clear()
        self._events_inflight = 0
        self.status.inflight = 0
        if self.status.link == "up" and self.on_link_change:
            self.on_link_change(False)
        self.status.link = "down"

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

    def _shutdown(self) -> None:
        conn = self._conn
        if conn is not None and not conn.lost.is_set():
            deadline = time.monotonic() + getattr(self, "_flush_timeout_s", 2.0)
            while self._events_inflight and time.monotonic() < deadline and not conn.lost.is_set():
                self._network(0.02)
                self._drain_acks()
            info = conn.client.publish(self.topics.status, status_payload("offline"), qos=1, retain=True)
            deadline = time.monotonic() + 1.0
            while not info.is_published() and time.monotonic() < deadline and not conn.lost.is_set():
                self._network(0.02)
        self._teardown()
        self._save_stats()
        log.info("bridge stopped")

    # ------------------------------------------------------------------ publishing

    def _publish(self, topic: str, payload: bytes, *, retain: bool = False, tag: _Inflight) -> bool:
        assert self._conn is not None
        info = self._conn.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._conn.lost.set()
            return False
        self._inflight[info.mid] = tag
        self.status.published += 1
        return True

    def _reset_cursors(self) -> None:
        self._cursor = {Lane.CRITICAL: 0, Lane.BULK: 0}
        self._bulk_buffer.clear()
        self._bulk_fetched = 0
        self._last_critical_poll = 0.0

    def _next_rows(self, free: int) -> list[EventRecord]:
        """Critical rows first (re-read every few ms), then bulk rows from a read-ahead buffer."""
        conn = self.store.connection()
        now = time.monotonic()
        rows: list[EventRecord] = []
        if not self._bulk_buffer or now - self._last_critical_poll >= CRITICAL_POLL_S:
            self._last_critical_poll = now
            rows = outbox.fetch(conn, Lane.CRITICAL, self._cursor[Lane.CRITICAL], free)
        if len(rows) < free:
            if not self._bulk_buffer:
                start = max(self._bulk_fetched, self._cursor[Lane.BULK])
                self._bulk_buffer.extend(outbox.fetch(conn, Lane.BULK, start, BULK_CHUNK))
                if self._bulk_buffer:
                    self._bulk_fetched = self._bulk_buffer[-1].seq
            while self._bulk_buffer and len(rows) < free:
                rows.append(self._bulk_buffer.popleft())
        return rows

    def _fill_window(self) -> None:
        free = self.window - self._events_inflight
        if free <= 0 or self._conn is None:
            return
        rows = self._next_rows(free)
        now_mono = monotonic_ns()
        synced_now = clock_synchronised()
        if rows and not self._events_inflight:
            self._last_progress = time.monotonic()
        for row in rows:
            payload = self._wire_payload(row, now_mono, synced_now)
            if not self._publish(self.topics.event(row.kind), payload, tag=_Inflight("event", row.seq)):
                return
            self._cursor[row.lane] = row.seq
            self._events_inflight += 1
        self.status.inflight = self._events_inflight

    def _wire_payload(self, row: EventRecord, now_mono: int, synced_now: bool) -> bytes:
        same_boot = row.boot_id == BOOT_ID
        age_s = (now_mono - row.mono_ns) / 1e9 if same_boot else float("inf")
        historical = row.seq <= self._live_from_seq or age_s > self.settings.mqtt.historical_after_s
        if not row.clock_synced and synced_now and same_boot:
            # Repair a time recorded before NTP sync: same boot, so the monotonic offset is exact.
            repaired = utc_now() - dt.timedelta(seconds=age_s)
            return row.payload(historical, rfc3339(repaired), True)
        return row.payload(historical)

    def _drain_acks(self) -> None:
        while True:
            try:
                mid = self._acks.get_nowait()
            except queue.Empty:
                break
            tag = self._inflight.pop(mid, None)
            if tag is None:
                continue
            self.status.acked += 1
            self._last_progress = time.monotonic()
            if tag.kind == "event":
                self._events_inflight -= 1
                self._pending_deletes.append(tag.seq)
            elif tag.kind == "alert":
                if self._alerts_inflight.get(tag.key) == tag.version:
                    del self._alerts_inflight[tag.key]
                self._mark_alert_published(tag.key, tag.version)
        self.status.inflight = self._events_inflight

    def _flush_deletes(self) -> None:
        if not self._pending_deletes:
            return
        seqs, self._pending_deletes = self._pending_deletes, []
        try:
            with self.store.transaction() as tx:
                outbox.delete(tx.conn, seqs)
                tx.execute("UPDATE counters SET value = value + ? WHERE name = 'published'", (len(seqs),))
        except StoreError as exc:
            self._pending_deletes = seqs + self._pending_deletes  # retry; a resend would only duplicate
            self._note_error(f"store: {exc}")
        self._last_flush = time.monotonic()

    # ------------------------------------------------------------------ retained state

    def _sync_alerts(self) -> None:
        if self._conn is None:
            return
        if self._republish_alerts:
            rows = self.store.query("SELECT * FROM alerts WHERE NOT (state = 'cleared' AND acked = 1) "
                                    "OR version != published_version")
            self._republish_alerts = False
        else:
            rows = self.store.query("SELECT * FROM alerts WHERE version != published_version")
        for row in rows:
            key, version = row["key"], row["version"]
            if self._alerts_inflight.get(key) == version:
                continue
            state = retained_payload(row)
            payload = b"" if state is None else json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode()
            if not self._publish(self.topics.alert(key), payload, retain=True, tag=_Inflight("alert", key=key, version=version)):
                return
            self._alerts_inflight[key] = version

    def _mark_alert_published(self, key: str, version: int) -> None:
        try:
            with self.store.transaction() as tx:
                tx.execute("UPDATE alerts SET published_version = ? WHERE key = ? AND published_version < ?",
                           (version, key, version))
        except StoreError as exc:
            self._note_error(f"store: {exc}")

    def _publish_discovery(self) -> None:
        if self._conn is None or not self.settings.mqtt.discovery.enabled or self.discovery is None:
            return
        document = self.discovery()
        if document is not None:
            payload = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
            self._publish(self.topics.discovery, payload, retain=True, tag=_Inflight("other"))

    # ------------------------------------------------------------------ commands

    def _drain_incoming(self) -> None:
        while True:
            try:
                topic, payload = self._incoming.get_nowait()
            except queue.Empty:
                return
            if topic == self.topics.ha_status:
                if payload.strip() == b"online":
                    self._publish_discovery()
                continue
            name = self.topics.command_name(topic)
            if name is None or self.intake is None:
                continue
            result = self.intake.handle(name, payload)
            if self._conn is not None:
                self._publish(self.topics.command_result(name), result.payload(), tag=_Inflight("other"))

    # ------------------------------------------------------------------ housekeeping

    def _enforce_budget(self) -> None:
        try:
            if bulk_budget.enforce(self.store, self.budget, self.alerts):
                self._bulk_buffer.clear()  # its rows may be gone; re-read from the last one sent
                self._bulk_fetched = self._cursor[Lane.BULK]
                self._wake.set()
        except StoreError as exc:
            self._note_error(f"store: {exc}")

    def _save_stats(self) -> None:
        stats = {"link": self.status.link, "connects": self.status.connects, "last_error": self.status.last_error,
                 "last_error_ts": self.status.last_error_ts, "ts": rfc3339(utc_now()),
                 "published_this_run": self.status.published, "acked_this_run": self.status.acked}
        try:
            self.store.set_meta("bridge.status", json.dumps(stats))
        except StoreError:
            pass

    def _note_error(self, message: str) -> None:
        self.status.last_error = message
        self.status.last_error_ts = rfc3339(utc_now())

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)
