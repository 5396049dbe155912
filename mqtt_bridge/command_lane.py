"""The command lane: commands from central run on a thread of their own.

The bridge thread only offers what arrives (`offer`: a token-bucket check and a
put on a bounded queue, a few microseconds), so a flood of commands cannot hold
back outgoing events. The lane's thread runs each command through the intake
(validation, the handler's transaction on the thread's own store connection, the
command log) and hands the answer back (`next_result`) for the bridge thread to
publish. The thread closes its store connection whenever the queue runs empty.

Every command gets exactly one answer. Past `mqtt.command_max_per_s` (a bucket
that holds one second's worth), or with `mqtt.command_queue_max` commands already
waiting, a command is answered `{"id": ..., "ok": false, "error": "rate_limited: ..."}`
with its id and is neither run nor recorded: the same id sent again later runs.
A command still queued when the process stops or dies gets no answer; central
sends it again (same id: it is never run twice).
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable

from mqtt_bridge.commands import CommandIntake, CommandResult
from mqtt_bridge.topics import Topics

log = logging.getLogger(__name__)

RATE_LIMITED = "rate_limited"
Answer = tuple[str, bytes, Callable[[], None] | None]  # topic, payload, the action after its PUBACK


class CommandLane:
    def __init__(self, intake: CommandIntake, topics: Topics, max_per_s: float, queue_max: int,
                 wake: Callable[[], None]) -> None:
        self.intake = intake
        self.topics = topics
        self.max_per_s = max_per_s
        self.queue_max = queue_max
        self._wake = wake
        self._queue: queue.Queue[tuple[str, bytes, bool] | None] = queue.Queue(maxsize=queue_max)
        # Appended by the lane's thread, popped by the bridge thread: deque appends and pops are atomic.
        self._results: collections.deque[Answer] = collections.deque()
        self._burst = max(1.0, float(max_per_s))
        self._tokens = self._burst
        self._refilled = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.accepted = 0  # handed to the intake
        self.refused = 0  # answered rate_limited

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-commands", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass  # the thread sees the flag within its poll interval
        if self._thread is not None:
            self._thread.join(timeout)

    # ------------------------------------------------------------------ the bridge thread

    def offer(self, name: str, payload: bytes) -> None:
        """A command arrived (the bridge thread, inside paho's loop): queue it, marked if over the cap."""
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._refilled) * self.max_per_s)
        self._refilled = now
        limited = self._tokens < 1.0
        if not limited:
            self._tokens -= 1.0
        try:
            self._queue.put_nowait((name, payload, limited))
        except queue.Full:
            # The lane's thread is behind (a long store lock, say): answer here, without running it.
            self._answer(self.intake.refuse(name, payload, f"{RATE_LIMITED}: {self.queue_max} commands are already "
                                                          "waiting to run; send it again later"))

    def next_result(self) -> Answer | None:
        """The next (topic, payload, then) to publish, or None; `then` runs once the broker acknowledged it."""
        try:
            return self._results.popleft()
        except IndexError:
            return None

    def put_back(self, item: Answer) -> None:
        """A result that could not be published (the link went down): first in line next time."""
        self._results.appendleft(item)

    @property
    def has_results(self) -> bool:
        return bool(self._results)

    # ------------------------------------------------------------------ the lane's thread

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if item is None:
                break
            name, payload, limited = item
            if limited:
                result = self.intake.refuse(name, payload, f"{RATE_LIMITED}: more than {self.max_per_s:g} commands "
                                                           "a second; send it again later")
            else:
                self.accepted += 1
                result = self.intake.handle(name, payload)  # never raises
            self._answer(result)
            if self._queue.empty():
                self.intake.idle()  # its store connection goes until the next command; a burst keeps one
            time.sleep(0)  # hand the GIL to the bridge thread if it waits: no 5 ms convoy behind a flood

    def _answer(self, result: CommandResult) -> None:
        if not result.ok and result.error and result.error.startswith(RATE_LIMITED):
            self.refused += 1
            if self.refused % 1000 == 1:
                log.warning("commands refused as rate_limited: %d so far (cap %g/s, queue %d)",
                            self.refused, self.max_per_s, self.queue_max)
        self._results.append((self.topics.command_result(result.name), result.payload(), result.then))
        self._wake()
