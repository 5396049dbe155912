"""The bridge: drains the outbox to the central broker and takes its commands.

Parts, one job each, driven by one loop on the bridge thread (`Bridge`):

- `session.py`: the connection (connect with backoff, paho's network loop run by
  hand, QoS 1 publishing, PUBACKs);
- `pump.py`: outbox rows out (critical first, bulk in batches) and acknowledged
  rows deleted before the window is filled again;
- `retained.py`: each alert's retained state and Home Assistant's discovery;
- `command_lane.py`: commands from central, capped per second and run on a thread
  of their own; the bridge thread only queues them and publishes their answers.

Threading: the bridge thread runs paho's network loop itself (no loop_start
thread), publishes, handles PUBACKs, and owns the outbox cursor, the in-flight
window and the acknowledgement deletes. The only things shared with another
thread are the wake-up flag and the command lane's two queues. A fresh paho
client is built for every connection, so retransmission after a reconnect comes
from the outbox alone: a row is deleted only after its PUBACK, and anything
unacknowledged is simply published again (at-least-once; consumers de-duplicate
by id).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from mqtt_bridge import budget as bulk_budget
from mqtt_bridge.alerts import AlertEngine
from mqtt_bridge.command_lane import CommandLane
from mqtt_bridge.commands import CommandIntake
from mqtt_bridge.mqtt_client import status_payload
from mqtt_bridge.pump import StateSubject, OutboxPump
from mqtt_bridge.retained import RetainedSync
from mqtt_bridge.session import BridgeStatus, Session, Tag
from mqtt_bridge.settings import BridgeSettings
from mqtt_bridge.store import Store, StoreError, outbox
from mqtt_bridge import timesync
from mqtt_bridge.timebase import rfc3339, utc_now
from mqtt_bridge.topics import Topics

__all__ = ["Bridge", "BridgeStatus", "topics_for"]

log = logging.getLogger(__name__)

IDLE_POLL_S = 0.05  # rows committed by another process (the kiosk) are picked up within this ...
ACTIVE_POLL_S = 0.02  # ... or within this during the ACTIVE_FOR_S after the last message or PUBACK
ACTIVE_FOR_S = 1.0
ACK_WAIT_S = 0.02
BUDGET_INTERVAL_S = 1.0
TIME_CHECK_S = 5.0  # how soon after NTP syncs the time.corrected event is queued
STATS_INTERVAL_S = 5.0


def _run_action(action: Callable[[], None]) -> None:
    try:
        action()
    except Exception:  # the answer is out; a failed action is logged, never a bridge failure
        log.exception("a command's action failed after it was answered")


def topics_for(cfg: BridgeSettings) -> Topics:
    return Topics(cfg.base_topic, cfg.mqtt.discovery.prefix, cfg.gateway_id)


class Bridge:
    """Store-and-forward to the central broker. `start()` runs it on its own thread."""

    def __init__(self, settings: BridgeSettings, store: Store, alerts: AlertEngine, intake: CommandIntake | None = None,
                 discovery: Callable[[], dict[str, Any] | None] | None = None,
                 state_subject: StateSubject | None = None) -> None:
        self.settings = settings
        self.store = store
        self.alerts = alerts
        self.topics = topics_for(settings)
        self.status = BridgeStatus()
        self.budget = bulk_budget.budget_from_settings(settings)
        self.window = settings.mqtt.inflight
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.session = Session(settings, self.topics, self.status, self._stop, self._on_message)
        if not settings.mqtt.discovery.enabled:
            state_subject = None  # the retained state topics are what Home Assistant's sensors read
        self.pump = OutboxPump(settings, store, self.topics, self.status, state_subject)
        self.retained = RetainedSync(settings, store, self.topics, self.status, discovery)
        self.commands = None if intake is None else CommandLane(
            intake, self.topics, settings.mqtt.command_max_per_s, settings.mqtt.command_queue_max, self.wake)
        self._results_inflight = 0
        self._last_budget = 0.0
        self._last_time_check = float("-inf")
        self._last_stats = 0.0
        self._flush_timeout_s = 2.0
        self.on_link_change: Callable[[bool], None] | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self.commands is not None:
            self.commands.start()
        self._thread = threading.Thread(target=self._run, name="mqtt-bridge", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """New rows are in the outbox, or answers to commands (others are polled)."""
        self._wake.set()

    def stop(self, flush_timeout_s: float = 2.0) -> None:
        """Stop: let the command being run finish (its answer still goes out: a config.update
        that asks for a restart is answered first), wait briefly for in-flight PUBACKs,
        mark offline, disconnect. Commands still queued get no answer; central resends them."""
        self._flush_timeout_s = flush_timeout_s
        if self.commands is not None:
            self.commands.stop()
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=flush_timeout_s + 5)

    @property
    def link_up(self) -> bool:
        return self.status.link == "up"

    @property
    def broker(self) -> str | None:
        """"host:port" of the broker connected to, None while the link is down."""
        return self.status.broker if self.status.link == "up" else None

    # ------------------------------------------------------------------ main loop

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.session.up:
                    self._connect()
                    continue
                self._serve_once()
            except Exception as exc:  # keep the bridge alive whatever happens
                log.exception("bridge loop error; reconnecting")
                self.status.note_error(f"internal error: {exc}")
                self._teardown()
                self._stop.wait(1.0)
        self._shutdown()

    def _serve_once(self) -> None:
        session, pump = self.session, self.pump
        if pump.busy or self._results_inflight or (self.commands is not None and self.commands.has_results):
            # Waiting for PUBACKs: select() returns as soon as one arrives.
            session.network(0.0 if self._wake.is_set() else ACK_WAIT_S)
        else:
            # Idle: a commit in this process wakes us at once; the kiosk's rows and
            # commands from central are picked up within ACTIVE_POLL_S while traffic
            # flows (events come in bursts), within IDLE_POLL_S once it has stopped.
            recent = time.monotonic() - pump.last_progress < ACTIVE_FOR_S
            self._wake.wait(ACTIVE_POLL_S if recent else IDLE_POLL_S)
            session.network(0.0)
        self._wake.clear()
        self._take_acks()
        pump.commit_acks()  # before the window is filled again: a crash re-sends at most one window
        if pump.inflight and time.monotonic() - pump.last_progress > self.settings.mqtt.keepalive_s:
            # A link that swallows traffic without closing (a dead NAT, a cable pulled
            # behind a switch) never errors; PUBACKs that stop coming are the sign.
            log.warning("no PUBACK for %d s with %d messages in flight: treating the link as dead",
                        self.settings.mqtt.keepalive_s, pump.inflight)
            session.mark_lost()
        if session.lost:
            self.status.note_error("connection to the broker lost")
            log.warning("connection to %s lost; will reconnect", session.endpoint)
            self._teardown()
            return
        pump.fill(session)
        self._publish_results()
        now = time.monotonic()
        self.retained.tick(session, now)
        if now - self._last_budget >= BUDGET_INTERVAL_S:
            self._last_budget = now
            self._enforce_budget()
        self._check_time()
        if now - self._last_stats >= STATS_INTERVAL_S:
            self._last_stats = now
            self._save_stats()

    def _take_acks(self) -> None:
        for tag in self.session.acked():
            if tag.kind in ("event", "bulk"):
                self.pump.on_ack(tag)
            elif tag.kind == "alert":
                self.retained.on_ack(tag)
            elif tag.kind == "result":
                self._results_inflight -= 1
                if tag.then is not None:  # answered and acknowledged: now act (never on this thread)
                    threading.Thread(target=_run_action, args=(tag.then,), name="command-action").start()

    def _publish_results(self) -> None:
        """Answers to commands, at most a window of them in flight (paho would queue the
        rest in front of the events)."""
        if self.commands is None:
            return
        while self._results_inflight < self.window:
            item = self.commands.next_result()
            if item is None:
                return
            if not self.session.publish(item[0], item[1], Tag("result", then=item[2])):
                self.commands.put_back(item)
                return
            self._results_inflight += 1

    def _on_message(self, topic: str, payload: bytes) -> None:
        """Called by paho on the bridge thread: nothing slow here."""
        if topic == self.topics.ha_status:
            if payload.strip() == b"online":
                self.retained.home_assistant_online()
            return
        name = self.topics.command_name(topic)
        if name is not None and self.commands is not None:
            self.commands.offer(name, payload)

    # ------------------------------------------------------------------ connecting

    def _connect(self) -> None:
        # The budget also applies while offline: that is when the backlog grows.
        if time.monotonic() - self._last_budget >= BUDGET_INTERVAL_S:
            self._last_budget = time.monotonic()
            self._enforce_budget()
        self._check_time()
        if not self.session.connect():
            return
        conn = self.store.connection()
        self.pump.start(live_from_seq=outbox.last_seq(conn))
        backlog = {lane.name.lower(): d.rows for lane, d in outbox.depth(conn).items()}
        log.info("connected to %s (MQTT %s); backlog %s", self.session.endpoint, self.settings.mqtt.protocol, backlog)
        for topic in self.topics.command_filters(dots_split=self.settings.mqtt.broker_kind == "rabbitmq"):
            self.session.subscribe(topic)
        self.retained.connected(self.session)
        self.session.publish(self.topics.status, status_payload("online", str(self.session.endpoint)), Tag("status"),
                             retain=True)
        if self.on_link_change:
            self.on_link_change(True)

    def _teardown(self) -> None:
        self._take_acks()
        self.pump.commit_acks()
        self.session.close()
        self.pump.reset()
        self.retained.disconnected()
        self._results_inflight = 0
        if self.status.link == "up" and self.on_link_change:
            self.on_link_change(False)
        self.status.link = "down"

    def _shutdown(self) -> None:
        session = self.session
        if session.up and not session.lost:
            deadline = time.monotonic() + self._flush_timeout_s
            self._publish_results()
            while (self.pump.inflight or self._results_inflight or (self.commands and self.commands.has_results)) \
                    and time.monotonic() < deadline and not session.lost:
                session.network(0.02)
                self._take_acks()
                self.pump.commit_acks()
                self._publish_results()
            session.publish_offline()
        self._teardown()
        self._save_stats()
        log.info("bridge stopped")

    # ------------------------------------------------------------------ housekeeping

    def _check_time(self) -> None:
        """Queue time.corrected / time.uncorrectable for events stamped before NTP synced (timesync.py);
        online or not: the correction waits in the outbox like any other event."""
        now = time.monotonic()
        if now - self._last_time_check < TIME_CHECK_S:
            return
        self._last_time_check = now
        try:
            if timesync.correct(self.store):
                self.pump.look_again()  # committed on this thread's connection: data_version does not show it
                self._wake.set()
        except StoreError as exc:
            self.status.note_error(f"store: {exc}")

    def _enforce_budget(self) -> None:
        try:
            if bulk_budget.enforce(self.store, self.budget, self.alerts):
                self.pump.rows_dropped()
                self._wake.set()
        except StoreError as exc:
            self.status.note_error(f"store: {exc}")
        self.pump.look_again()  # its alerts and events were committed on this thread's connection

    def _save_stats(self) -> None:
        status = self.status
        stats = {"link": status.link, "broker": status.broker, "connects": status.connects, "last_error": status.last_error,
                 "last_error_ts": status.last_error_ts, "ts": rfc3339(utc_now()),
                 "published_this_run": status.published, "acked_this_run": status.acked}
        if self.commands is not None:
            stats.update(commands_run_this_run=self.commands.accepted, commands_refused_this_run=self.commands.refused)
        try:
            self.store.set_meta("bridge.status", json.dumps(stats))
        except StoreError:
            pass
