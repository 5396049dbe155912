"""Watching a pushed config on probation while the gateway runs (lobby/config/probation.py).

Kept: the broker acknowledged (PUBACK) the `gateway.started` event this process
published on the new config (its outbox row is deleted only then, and critical rows
are never dropped, so "the row is gone" is the round trip), and the process has run
on it for a little while (SETTLE_MAX_S, at most half the probation): a config that
makes the gateway crash soon after connecting is counted by its starts instead.
Reverted: the probation time ran out first; the previous file is put back and the
process restarts on it.

Runs on a thread of its own and never waits for the bridge or the store's writers:
it only reads the outbox (one indexed lookup every half second).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lobby.config import probation
from mqtt_bridge.store import Store

log = logging.getLogger(__name__)

POLL_S = 0.5
NOTE_EVERY_S = 10.0
SETTLE_MAX_S = 30.0  # kept only after running this long on the new config (a crash soon after connecting counts)


class ProbationWatch:
    def __init__(self, config_path: Path, state: probation.Probation, store: Store, started_seq: int,
                 last_error: Callable[[], str | None], on_kept: Callable[[probation.Probation], None],
                 on_reverted: Callable[[], None]) -> None:
        self.config_path = config_path
        self.state = state
        self.store = store
        self.started_seq = started_seq
        self.last_error = last_error
        self.on_kept = on_kept
        self.on_reverted = on_reverted
        self.outcome: str | None = None  # kept | reverted
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="config-probation", daemon=True)
        self._since = time.monotonic()
        self.settle_s = min(SETTLE_MAX_S, state.probation_s / 2)

    def start(self) -> "ProbationWatch":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)

    def acknowledged(self) -> bool:
        try:
            return self.store.scalar("SELECT 1 FROM outbox WHERE seq = ?", (self.started_seq,)) is None
        except Exception:  # a stalled store: not known yet
            return False

    def _run(self) -> None:
        last_note = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now - self._since >= self.settle_s and self.acknowledged():
                self._keep()
                return
            if self.state.remaining(now) <= 0:
                self._revert()
                return
            if now - last_note >= NOTE_EVERY_S:
                last_note = now
                probation.note(self.config_path, self.state, self.last_error())
            self._stop.wait(min(POLL_S, max(0.05, self.state.remaining(now))))

    def _keep(self) -> None:
        try:
            probation.keep(self.config_path, self.state)
        except OSError as exc:
            log.error("probation record not written (%s); version %s is kept", exc.strerror, self.state.version)
        self.outcome = "kept"
        self.on_kept(self.state)

    def _revert(self) -> None:
        self.state.last_error = self.last_error() or self.state.last_error
        try:
            probation.timed_out(self.config_path, self.state)
        except OSError as exc:
            log.critical("the previous configuration could not be put back (%s)", exc.strerror)
            return
        self.outcome = "reverted"
        self.on_reverted()


def reverted_event(state: probation.Probation) -> dict[str, Any]:
    """config.reverted's data (events/health.json)."""
    return {"version": state.version, "version_in_force": state.previous_version, "reason": state.reason or "",
            "starts": state.starts, "probation_s": state.probation_s}
