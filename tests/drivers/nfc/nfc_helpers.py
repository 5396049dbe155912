"""Helpers for the NFC reader tests: recorders that let a test wait for events
without fixed sleeps, and the simulator run as a child process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from drivers.health import DeviceHealth
from drivers.nfc.base import TagEvent
from drivers.nfc.sim.pn532_control import ControlClient

REPO = Path(__file__).resolve().parents[3]
WAIT_S = 15.0  # generous: CI machines are shared and slow; a pass is usually far quicker


class Recorder:
    """Collects items from another thread; `wait_for` blocks until a predicate holds."""

    def __init__(self) -> None:
        self.items: list = []
        self._cond = threading.Condition()

    def __call__(self, item: object) -> None:
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list], bool], timeout: float = WAIT_S) -> list:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.items), timeout):
                raise AssertionError(f"timed out waiting; got {self.items!r}")
            return list(self.items)

    def snapshot(self) -> list:
        with self._cond:
            return list(self.items)


class EventRecorder(Recorder):
    def taps(self) -> list[TagEvent]:
        return [e for e in self.snapshot() if e.kind == "tap"]

    def wait_kinds(self, *kinds: str) -> list[TagEvent]:
        """Wait until the recorded kinds start with `kinds`, in order."""
        return self.wait_for(lambda items: [e.kind for e in items][:len(kinds)] == list(kinds))


class HealthRecorder(Recorder):
    def wait_state(self, state: str, after: int = 0) -> DeviceHealth:
        """Wait for a health change to `state` among the changes from index `after` on."""
        items = self.wait_for(lambda hs: any(h.state.value == state for h in hs[after:]))
        return next(h for h in items[after:] if h.state.value == state)


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


class SimProcess:
    """`python -m drivers.nfc.sim.pn532` as a child process, for kill/restart tests."""

    def __init__(self, link: Path, control: Path) -> None:
        self.link, self.control = link, control
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> "SimProcess":
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "drivers.nfc.sim.pn532", "--link", str(self.link),
             "--control", str(self.control)],
            stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
        assert self.proc.stdout is not None
        assert "ready" in self.proc.stdout.readline()
        return self

    def client(self) -> ControlClient:
        return ControlClient(self.control)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        # A killed simulator leaves its link to a pty that no longer exists; like a
        # USB adapter pulled out, the path is gone until the device comes back.
        self.link.unlink(missing_ok=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
