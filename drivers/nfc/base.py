"""What every card reader gives its host: tag events and its health.

Threading contract: a reader runs its device on one thread of its own. The
`on_event` callback given to `start()` is called on that thread, one event at a
time, in order; so are health listeners, except that LibnfcReader's watchdog
thread reports a reader that has stopped answering. Keep callbacks short (hand
the event to a queue, or write the record and return): a slow callback delays
the next poll. An exception raised by a callback is logged and swallowed.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Literal

from drivers.health import DeviceHealth, HealthListener, HealthReporter, HealthState

log = logging.getLogger(__name__)

TagKind = Literal["tap", "removed"]
TAG_TYPES = ("classic_1k", "classic_4k", "ultralight", "ntag", "desfire", "unknown")
UID_LENGTHS = (4, 7, 10)


@dataclass(frozen=True)
class TagEvent:
    """One tag event. `uid` is upper-case hex without separators; `at_mono` is
    time.monotonic() when the reader saw it (for "removed": when the tag left)."""

    kind: TagKind
    uid: str
    tag_type: str
    reader_id: str
    at_mono: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.kind not in ("tap", "removed"):
            raise ValueError(f"kind must be 'tap' or 'removed', not {self.kind!r}")
        if self.tag_type not in TAG_TYPES:
            raise ValueError(f"tag_type must be one of {TAG_TYPES}, not {self.tag_type!r}")
        if len(self.uid) // 2 not in UID_LENGTHS or len(self.uid) % 2 or self.uid != self.uid.upper():
            raise ValueError("uid must be upper-case hex of 4, 7 or 10 bytes")
        int(self.uid, 16)  # raises ValueError if not hex


EventCallback = Callable[[TagEvent], None]


class CardReader(abc.ABC):
    """A card reader driven by a thread of its own.

    `start(on_event)` returns at once; events then arrive on the reader's thread.
    `stop()` is idempotent and returns within about a second. A reader never
    raises into its host because the device misbehaves: it reports health
    (ok / degraded / lost, with a plain reason) and keeps retrying by itself.
    Use as a context manager to stop on exit.
    """

    def __init__(self, reader_id: str) -> None:
        self.reader_id = reader_id
        self._health = HealthReporter(reader_id, HealthState.DEGRADED, "starting")
        self._on_event: EventCallback | None = None
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None

    # -- public API ----------------------------------------------------------
    @property
    def health(self) -> DeviceHealth:
        return self._health.health

    def subscribe_health(self, listener: HealthListener) -> None:
        """Call `listener(DeviceHealth)` on every health change (on the reader's thread)."""
        self._health.subscribe(listener)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, on_event: EventCallback) -> None:
        if self.running:
            raise RuntimeError(f"reader {self.reader_id} already started")
        self._on_event = on_event
        self._stop_event.clear()
        self._thread = threading.Thread(target=self._thread_main, name=f"reader-{self.reader_id}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 1.0) -> None:
        """Ask the thread to finish and wait up to `timeout_s` for it."""
        thread = self._thread
        self._stop_event.set()
        if thread is None or thread is threading.current_thread():
            return
        deadline = time.monotonic() + timeout_s
        while thread.is_alive() and time.monotonic() < deadline:
            self._interrupt()  # again each time: the thread may have just entered a call
            thread.join(min(0.05, max(0.0, deadline - time.monotonic())))
        if thread.is_alive():
            log.warning("reader %s did not stop within %.1f s", self.reader_id, timeout_s)

    def __enter__(self) -> "CardReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- for subclasses ------------------------------------------------------
    @abc.abstractmethod
    def _run(self) -> None:
        """The reader thread's work; return when `self._stop_event` is set."""

    def _interrupt(self) -> None:
        """Wake the reader thread from a blocking call. stop() calls it repeatedly
        until the thread ends, so it must be cheap and safe to repeat."""

    def _emit(self, event: TagEvent) -> None:
        if event.kind == "tap":
            # never the UID: a visitor's pass card is personal data, and logs are kept longer
            log.debug("reader %s: tap (%s, %d-byte UID)", self.reader_id, event.tag_type, len(event.uid) // 2)
        callback = self._on_event
        if callback is None:
            return
        try:
            callback(event)
        except Exception:
            log.exception("reader %s: event callback failed", self.reader_id)

    def _set_health(self, state: HealthState, reason: str = "") -> None:
        if self._health.set(state, reason):
            level = logging.INFO if state is HealthState.OK else logging.WARNING
            log.log(level, "reader %s: %s%s", self.reader_id, state.value, f" ({reason})" if reason else "")

    def _thread_main(self) -> None:
        try:
            self._run()
        except Exception:  # a bug, not a device fault: report it, never crash the host
            log.exception("reader %s: thread failed", self.reader_id)
            self._set_health(HealthState.LOST, "internal error in the reader driver")


class Backoff:
    """Exponential retry delays: first, 2*first, ... capped at `cap`."""

    def __init__(self, first_s: float = 0.5, cap_s: float = 10.0) -> None:
        self.first_s, self.cap_s = first_s, cap_s
        self._next = first_s

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.cap_s)
        return delay

    def reset(self) -> None:
        self._next = self.first_s
