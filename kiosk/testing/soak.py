"""Simulated flows for the memory benchmark (test mode only; bench/kiosk_bench.py).

Each flow goes through the real screens the way a finger would (the same screen
methods the buttons call, the keyboard's TextEntry for typing), one screen per frame,
waiting for the worker between steps (and, back home, for the screens let go to be
collected): feedback, a check-in with a name typed in pinyin, a complaint, a check-out
by the last 4 phone digits, a ticket lookup.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from kivy.clock import Clock


def _type(screen: Any, letters: str) -> None:
    for ch in letters:
        screen.entry.press(ch)


class Soak:
    def __init__(self, app: Any, flows: int, on_done: Callable[[dict[str, Any]], None], first: int = 0) -> None:
        self.app = app
        self.first = first
        self.total = flows
        self.done = 0
        self.on_done = on_done
        self.started = time.monotonic()
        self.steps = self._all()
        Clock.schedule_once(self._next, 0)

    def _next(self, _dt: float) -> None:
        if self.app.worker.pending or self.app.release_pending:
            Clock.schedule_once(self._next, 0)
            return
        try:
            next(self.steps)
        except StopIteration:
            self.app.home()
            Clock.schedule_once(self._finish, 0)
            return
        Clock.schedule_once(self._next, 0)

    def _finish(self, _dt: float) -> None:
        """The RSS once the kiosk is at rest on its home screen (the screens it let go collected)."""
        from kiosk.testing.memory import rss_kb

        if self.app.release_pending:
            Clock.schedule_once(self._finish, 0)
            return
        self.on_done({"flows": self.done, "seconds": round(time.monotonic() - self.started, 1),
                      "rss_kb": rss_kb()})

    def _all(self) -> Iterator[None]:
        kinds = (self._feedback, self._checkin, self._complaint, self._checkout, self._track)
        n = self.first
        while self.done < self.total:
            yield from kinds[n % len(kinds)](n)
            self.done += 1
            n += 1

    # ------------------------------------------------------------------ the flows

    def _start(self, flow: str) -> Iterator[None]:
        self.app.home()
        yield
        self.app.screen("home").start(flow)
        yield

    def _feedback(self, n: int) -> Iterator[None]:
        yield from self._start("feedback")
        self.app.screen("fb_faces").press(("happy", "very_happy", "unhappy")[n % 3])
        yield
        if self.app.current == "fb_reason":
            self.app.screen("fb_reason").choose("waiting")
            yield

    def _checkin(self, n: int) -> Iterator[None]:
        app = self.app
        yield from self._start("checkin")
        name = app.screen("ci_name")
        _type(name, ("zhangwei", "wangfang", "liuyang")[n % 3])
        yield
        name.entry.choose(0)
        name.submit()
        yield
        phone = app.screen("ci_phone")
        phone.entry.insert_text(f"139{n:08d}")
        phone.submit()
        yield
        host = app.screen("ci_host")
        host.search("")
        yield
        hosts = app.services.hosts("")
        host.choose(hosts[n % len(hosts)].id)
        yield
        app.screen("ci_purpose").choose("meeting")
        yield
        app.screen("ci_consent").agree()
        yield
        app.screen("ci_confirm").submit()
        yield

    def _complaint(self, n: int) -> Iterator[None]:
        app = self.app
        yield from self._start("ticket")
        app.screen("tk_kind").choose("complaint")
        yield
        app.screen("tk_category").choose("noise")
        yield
        app.screen("tk_place").submit()
        yield
        desc = app.screen("tk_desc")
        _type(desc, "zaoyin")
        desc.entry.press("space")
        yield
        desc.submit()
        yield
        app.screen("tk_contact_name").skip()
        yield
        app.screen("tk_contact_phone").skip()
        yield
        app.screen("tk_confirm").submit()
        yield

    def _checkout(self, n: int) -> Iterator[None]:
        app = self.app
        yield from self._start("checkout")
        app.go("co_last4")
        yield
        last4 = app.screen("co_last4")
        last4.entry.insert_text(f"{max(0, n - 2):08d}"[-4:])
        last4.submit()
        yield
        if app.current == "co_choose" and app.drafts.checkout_choices:
            app.screen("co_choose").choose(app.drafts.checkout_choices[0].visit_id)
            yield

    def _track(self, n: int) -> Iterator[None]:
        app = self.app
        yield from self._start("track")
        entry = app.screen("tr_entry")
        entry.entry.insert_text("ABCDEF")
        entry.submit()
        yield
