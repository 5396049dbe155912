"""Helpers for the NFC reader tests: recorders that let a test wait for events
without fixed sleeps, and the simulator run as a child process."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

from drivers.health import DeviceHealth
from drivers.nfc.base import TagEvent
from drivers.nfc.sim.launch import SimulatedReaders
from drivers.nfc.sim.pn532_control import ControlClient

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
    """A PN532 simulator as a child process (drivers.nfc.sim.launch), for kill/restart tests."""

    READER = "pn532"

    def __init__(self, folder: Path) -> None:
        self.readers = SimulatedReaders(folder, [self.READER])
        self.link, self.control = self.readers.link(self.READER), self.readers.socket(self.READER)

    @property
    def proc(self) -> subprocess.Popen[str] | None:
        return self.readers.procs.get(self.READER)

    def start(self) -> "SimProcess":
        assert self.READER in self.readers.start()
        return self

    def client(self) -> ControlClient:
        return ControlClient(self.control)

    def kill(self) -> None:
        self.readers.kill(self.READER)
        # A killed simulator leaves its link to a pty that no longer exists; like a
        # USB adapter pulled out, the path is gone until the device comes back.
        self.link.unlink(missing_ok=True)

    def stop(self) -> None:
        self.readers.stop()