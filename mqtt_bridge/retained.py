"""Retained state that mirrors the store: each alert's state and Home Assistant's discovery.

Alerts whose version is newer than the one last acknowledged by the broker are
published (retained) every ALERT_SYNC_S, and all of them after every connect (a
broker that lost its retained messages gets them back). The discovery document
goes after every connect and when Home Assistant says `online`, at most once per
DISCOVERY_MIN_S however often it says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mqtt_bridge.alerts import retained_payload
from mqtt_bridge.session import BridgeStatus, Session, Tag
from mqtt_bridge.settings import BridgeSettings
from mqtt_bridge.store import Store, StoreError
from mqtt_bridge.topics import Topics

ALERT_SYNC_S = 0.25
DISCOVERY_MIN_S = 1.0


class RetainedSync:
    def __init__(self, settings: BridgeSettings, store: Store, topics: Topics, status: BridgeStatus,
                 discovery: Callable[[], dict[str, Any] | None] | None) -> None:
        self.settings = settings
        self.store = store
        self.topics = topics
        self.status = status
        self.discovery = discovery if settings.mqtt.discovery.enabled else None
        self._alerts_inflight: dict[str, int] = {}
        self._republish_alerts = True
        self._last_alert_sync = 0.0
        self._discovery_due = False
        self._last_discovery = float("-inf")

    def connected(self, session: Session) -> None:
        self._republish_alerts = True
        if self.settings.mqtt.discovery.enabled:
            session.subscribe(self.topics.ha_status)
        self._discovery_due = True
        self._last_discovery = float("-inf")

    def disconnected(self) -> None:
        self._alerts_inflight.clear()

    def home_assistant_online(self) -> None:
        self._discovery_due = True

    def tick(self, session: Session, now: float) -> None:
        if self._discovery_due and now - self._last_discovery >= DISCOVERY_MIN_S:
            self._discovery_due = False
            self._last_discovery = now
            self._publish_discovery(session)
        if self._republish_alerts or now - self._last_alert_sync >= ALERT_SYNC_S:
            self._last_alert_sync = now
            self._sync_alerts(session)

    def on_ack(self, tag: Tag) -> None:
        if self._alerts_inflight.get(tag.key) == tag.version:
            del self._alerts_inflight[tag.key]
        try:
            with self.store.transaction() as tx:
                tx.execute("UPDATE alerts SET published_version = ? WHERE key = ? AND published_version < ?",
                           (tag.version, tag.key, tag.version))
        except StoreError as exc:
            self.status.note_error(f"store: {exc}")

    def _sync_alerts(self, session: Session) -> None:
        if not session.up:
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
            if not session.publish(self.topics.alert(key), payload, Tag("alert", key=key, version=version), retain=True):
                return
            self._alerts_inflight[key] = version

    def _publish_discovery(self, session: Session) -> None:
        if not session.up or self.discovery is None:
            return
        document = self.discovery()
        if document is not None:
            payload = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
            session.publish(self.topics.discovery, payload, Tag("other"), retain=True)
