"""The central system's side of the contract, for tests: a persistent subscriber
that collects and validates everything a gateway publishes, and sends commands.

Batches (<base>/batch/<kind>) are unpacked: each item counts as an event, as a
consumer must treat it."""

from __future__ import annotations

import itertools
import json
import queue
import threading
import time
from collections import defaultdict
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from mqtt_bridge import schemas
from mqtt_bridge.watch import SeqTracker

_ids = itertools.count(1)


class Central:
    def __init__(self, port: int, base: str, client_id: str | None = None, clean: bool = False,
                 validate: bool = True, host: str = "127.0.0.1", tls: dict[str, str] | None = None,
                 username: str | None = None, password: str | None = None) -> None:
        self.base = base
        self.validate = validate
        self.tracker = SeqTracker()
        self.lock = threading.RLock()
        self.events: list[dict[str, Any]] = []
        self.by_topic: dict[str, list[bytes]] = defaultdict(list)
        self.retained: dict[str, bytes] = {}
        self.results: "queue.SimpleQueue[tuple[str, dict[str, Any]]]" = queue.SimpleQueue()
        self.invalid: list[str] = []
        self.arrival: dict[int, float] = {}
        self.batches = 0  # messages on <base>/batch/<kind>
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"central-{next(_ids)}",
                                  clean_session=clean)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 1)  # come back fast after a broker restart
        self._subscribed = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe([(f"{base}/#", 1), ("homeassistant/#", 1)])
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        if tls:
            self.client.tls_set(**tls)
        if username:
            self.client.username_pw_set(username, password)
        self.client.connect(host, port, keepalive=10)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError("central could not subscribe")

    def close(self) -> None:
        self.client.disconnect()  # wakes the network thread, so loop_stop returns at once
        self.client.loop_stop()

    # ------------------------------------------------------------------ receiving

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        topic, payload = msg.topic, msg.payload
        with self.lock:
            self.by_topic[topic].append(payload)
            if msg.retain or topic.startswith((self.base + "/alerts/", self.base + "/state/")) \
                    or topic == self.base + "/status":
                self.retained[topic] = payload
        rel = topic[len(self.base) + 1:]
        if rel.startswith(("events/", "batch/")):
            doc = json.loads(payload)
            kind = rel.split("/", 1)[1]
            if self.validate:
                try:
                    problem = (schemas.validate_event(kind, doc) if rel.startswith("events/")
                               else schemas.validate_batch(kind, doc))
                except KeyError as exc:
                    problem = str(exc)
                if problem:
                    self.invalid.append(f"{topic}: {problem}")
            items = doc["items"] if rel.startswith("batch/") else [doc]
            with self.lock:
                self.batches += rel.startswith("batch/")
                for envelope in items:
                    if self.tracker.add(envelope):
                        self.arrival[envelope["seq"]] = time.monotonic()
                    self.events.append(envelope)
        elif rel.startswith("state/") and payload and self.validate:
            try:
                problem = schemas.validate_event(rel.split("/")[1], json.loads(payload))
            except KeyError as exc:
                problem = str(exc)
            if problem:
                self.invalid.append(f"{topic}: {problem}")
        elif rel == "status" and self.validate:
            problem = schemas.first_error("status.json", json.loads(payload))
            if problem:
                self.invalid.append(f"{topic}: {problem}")
        elif rel.startswith("alerts/") and payload and self.validate:
            problem = schemas.first_error("alert_state.json", json.loads(payload))
            if problem:
                self.invalid.append(f"{topic}: {problem}")
        elif rel.startswith("cmd/") and rel.endswith("/result"):
            body = json.loads(payload)
            if self.validate:
                problem = schemas.first_error("command_result.json", body)
                if problem:
                    self.invalid.append(f"{topic}: {problem}")
            self.results.put((rel.split("/")[1], body))

    def wait_for(self, predicate: Any, timeout: float = 20.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate():
                    return
            time.sleep(0.02)
        raise TimeoutError(f"timed out waiting for {what}")

    def wait_seqs(self, upto: int, timeout: float = 60.0) -> None:
        self.wait_for(lambda: not self.tracker.missing(upto), timeout, f"every seq up to {upto}")

    def events_of(self, type_: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events if e["type"] == type_]

    # ------------------------------------------------------------------ commanding
    # Commands carry the current time: the gateway refuses those older than mqtt.command_max_age_s.

    def command(self, name: str, data: Any = None, cmd_id: str | None = None, raw: bytes | None = None,
                timeout: float = 15.0) -> dict[str, Any]:
        """Send a command and return its result."""
        cmd_id = cmd_id or f"c{next(_ids)}"
        payload = raw if raw is not None else json.dumps(
            {"id": cmd_id, "ts": now_ts(), "data": {} if data is None else data}).encode()
        self.client.publish(f"{self.base}/cmd/{name}", payload, qos=1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got_name, body = self.results.get(timeout=0.1)
            except queue.Empty:
                continue
            if raw is not None or body.get("id") == cmd_id:
                return body
        raise TimeoutError(f"no result for command {name} {cmd_id}")


class TimedCentral(Central):
    """Central that also notes when each `online` status arrived (for recovery times)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.online_at: list[float] = []
        super().__init__(*args, **kwargs)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        if msg.topic == f"{self.base}/status" and b'"online"' in msg.payload:
            self.online_at.append(time.monotonic())
        super()._on_message(client, userdata, msg)

    def wait_for_safe(self, predicate: Any, timeout: float) -> bool:
        try:
            self.wait_for(predicate, timeout)
        except TimeoutError:
            return False
        return True

    def online_since(self, t0: float) -> float | None:
        with self.lock:
            later = [t for t in self.online_at if t >= t0]
        return later[0] if later else None


def now_ts() -> str:
    """This moment as a command's ts (RFC 3339 UTC, milliseconds)."""
    from mqtt_bridge.timebase import rfc3339, utc_now

    return rfc3339(utc_now())
