"""What every gateway-side process shares: store, alerts, command intake, bridge.

`lobby bridge` runs just this; `lobby gateway` adds meters, patrol and buttons
on top. A config.update that is accepted asks the process to restart, so the
new file is applied by the same code path as a cold start, on probation: it is
kept once the broker has acknowledged this process's `gateway.started`, and
otherwise put back (lobby/config/probation.py, lobby/probation.py).
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from mqtt_bridge.alerts import AlertEngine
from lobby.cardhash import load_key, sync_config_cards  # noqa: F401 - sync_config_cards re-exported
from lobby.commands import CommandContext, default_specs
from mqtt_bridge.commands import CommandIntake
from mqtt_bridge.commands.freshness import Freshness
from lobby.config import Config, state_path
from lobby.config import probation
from lobby.ha_state import state_subject
from mqtt_bridge.publisher import Bridge
from mqtt_bridge.store import Store
from mqtt_bridge.timebase import BOOT_ID, rfc3339, utc_now

log = logging.getLogger(__name__)

STARTED_META = "gateway.started"  # meta: this process's gateway.started (seq, version), for lobby-release's gate


class Runtime:
    def __init__(self, cfg: Config, config_path: Path | None) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.store = Store(state_path(cfg, cfg.store.path), cfg.store.busy_timeout_ms)
        self.alerts = AlertEngine(self.store)
        self.card_key = load_key(cfg.state_dir)
        sync_config_cards(self.store, cfg, self.card_key)
        self.context = CommandContext(cfg, config_path, self.alerts, self.card_key)
        self.specs = default_specs(self.context)
        self.restart_requested = threading.Event()
        bridge = cfg.bridge
        self.intake = CommandIntake(self.store, self.specs, cfg.mqtt.command_max_bytes, self._after_command,
                                    freshness=Freshness(self.store, cfg.mqtt.command_max_age_s),
                                    log_max_rows=bridge.command_log_max_rows,
                                    log_max_bytes=bridge.command_log_max_bytes)
        self.bridge = Bridge(cfg.bridge, self.store, self.alerts, self.intake, discovery=self.discovery_document,
                             state_subject=state_subject)
        self.store.commit_listeners.append(self.bridge.wake)  # in-process events go out at once
        # What `probation.at_start` found before the config was loaded (set by `lobby gateway` / `lobby bridge`).
        self.start_decision: probation.StartDecision | None = None
        self.probation_watch: Any = None
        self.started_seq: int | None = None

    def discovery_document(self) -> dict[str, Any] | None:
        from lobby.discovery import discovery_document

        return discovery_document(self.cfg)

    def _after_command(self, name: str, data: dict[str, Any], result: dict[str, Any]) -> None:
        if name == "config.update":
            log.info("configuration version %s accepted; restarting to apply it", result.get("version_in_force"))
            self.restart_requested.set()

    def start(self) -> None:
        version = _version()
        started = self.store.emit("health", "gateway.started", {"version": version, "config_version": self.cfg.version})
        self.started_seq = started.seq
        self.store.set_meta(STARTED_META, json.dumps({"seq": started.seq, "version": version, "boot_id": BOOT_ID,
                                                      "mono_ns": started.mono_ns, "config_version": self.cfg.version,
                                                      "ts": rfc3339(utc_now())}))
        self._probation_at_start()
        self.bridge.start()
        self.store.close_thread_connection()  # the starting thread's; the bridge and the rest use their own

    def _probation_at_start(self) -> None:
        decision, path = self.start_decision, self.config_path
        if decision is None or path is None:
            return
        if decision.report is not None:
            from lobby.probation import reverted_event

            self.store.emit("health", "config.reverted", reverted_event(decision.report))
            probation.mark_reported(path, decision.report)
        if decision.watch is not None:
            from lobby.probation import ProbationWatch

            bridge = self.bridge
            self.probation_watch = ProbationWatch(
                path, decision.watch, self.store, self.started_seq or 0,
                last_error=lambda: bridge.status.last_error, on_kept=self._config_kept,
                on_reverted=self.restart_requested.set).start()

    def _config_kept(self, state: probation.Probation) -> None:
        try:
            self.store.emit("health", "config.kept", {"version": state.version,
                                                      "previous_version": state.previous_version})
        except Exception as exc:  # the record on disk says kept; the event is for central's view only
            log.warning("config.kept not recorded: %s", exc)

    def stop(self) -> None:
        if self.probation_watch is not None:
            self.probation_watch.stop()
        self.bridge.stop()
        self.store.close()


def _version() -> str:
    from mqtt_bridge.version import VERSION

    return VERSION
