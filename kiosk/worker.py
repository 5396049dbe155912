"""Long-running calls off the UI thread, results back on it.

Store writes (which may wait for the write lock held by the gateway), printing
(a badge takes a second or two) and card routing run on a small thread pool;
`then(result)` / `error(exc)` are called on the Kivy thread with
Clock.schedule_once. An exception without an `error` handler is re-raised on the
UI thread, where the app's ExceptionManager handler shows the apology screen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class Worker:
    def __init__(self, threads: int = 2, post: Callable[[Callable[[], None]], None] | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kiosk-worker")
        self._post = post or _kivy_post
        self._lock = threading.Lock()
        self._pending = 0
        self._generation = 0

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def cancel_results(self) -> None:
        """Results of calls already running are dropped (the flow they belonged to was wiped)."""
        with self._lock:
            self._generation += 1

    def run(self, fn: Callable[..., Any], *args: Any, then: Callable[[Any], None] | None = None,
            error: Callable[[BaseException], None] | None = None, keep: bool = False) -> Future[Any]:
        """Run fn(*args) on a worker thread. `keep`: deliver even after cancel_results()."""
        with self._lock:
            self._pending += 1
            generation = self._generation
        future = self._pool.submit(fn, *args)

        def done(f: Future[Any]) -> None:
            def deliver() -> None:
                with self._lock:
                    self._pending -= 1
                    stale = generation != self._generation and not keep
                exc = f.exception()
                if stale:
                    return
                if exc is not None:
                    if error is not None:
                        error(exc)
                        return
                    raise exc
                if then is not None:
                    then(f.result())

            self._post(deliver)

        future.add_done_callback(done)
        return future

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _kivy_post(fn: Callable[[], None]) -> None:
    from kivy.clock import Clock

    Clock.schedule_once(lambda _dt: fn(), 0)
