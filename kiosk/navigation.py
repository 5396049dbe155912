"""Screens and the way back: created on first visit, reused within a flow; home wipes every flow
and lets go of every screen but home (each is built again on its next visit).

Every change of screen (and every overlay shown) is followed by TRANSITION_GUARD_S in which
touches are ignored: the second tap of a double tap lands on nothing instead of on
whatever the next screen has under the finger. Each screen also starts at most one
"next" action per visit (`KScreen.begin`), so two taps that both arrive before the
screen changes (a store write on the worker) do the thing once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from kivy.cache import Cache
from kivy.clock import Clock
from kivy.core.window import Window

from lobby import heap
from kiosk.crash import log_without_data
from kiosk.widgets import scrub_labels

log = logging.getLogger(__name__)

TRANSITION_GUARD_S = 0.4


class NavigationMixin:
    """Part of KioskApp: needs self.sm, self.factories, self.history, self.drafts, self.worker."""

    def register(self, name: str, factory: Callable[[], Any]) -> None:
        self.factories[name] = factory

    def screen(self, name: str) -> Any:
        if not self.sm.has_screen(name):
            t0 = time.perf_counter()
            widget = self.factories[name]()
            widget.name = name
            self.sm.add_widget(widget)
            self.event("screen_built", screen=name, ms=round((time.perf_counter() - t0) * 1000, 1))
        return self.sm.get_screen(name)

    def show(self, name: str, push: bool = True) -> Any:
        screen = self.screen(name)
        current = self.sm.current
        if push and current and current != name:
            self.history.append(current)
        screen.resume()
        if current == name:
            screen.refresh()
        else:
            self.guard_touches()
        self.sm.current = name
        return screen

    def guard_touches(self, seconds: float = TRANSITION_GUARD_S) -> None:
        """Ignore touches that begin within `seconds` from now (a screen or an overlay just appeared)."""
        self.guard_until = max(self.guard_until, time.monotonic() + seconds)
        Clock.schedule_once(lambda dt: self.event("guard_over"), seconds + 0.01)

    @property
    def guarded(self) -> bool:
        return time.monotonic() < self.guard_until

    def go(self, name: str) -> Any:
        return self.show(name, push=True)

    def replace(self, name: str) -> Any:
        return self.show(name, push=False)

    def back(self) -> None:
        while self.history:
            name = self.history.pop()
            if name != self.sm.current:
                self.screen(name).resume()
                self.guard_touches()
                self.sm.current = name
                return
        self.home()

    def home(self) -> None:
        """Back to the start: every flow is wiped (no personal data stays behind), the site's language again."""
        self.wipe_all()
        self.lang = self.default_lang
        self.history.clear()
        self.show("home", push=False)
        self.drop_screens()

    def drop_screens(self) -> None:
        """Let go of every screen but home and the one shown; give the memory back after home is drawn.

        A screen kept for the whole run kept its widget tree (Python objects, graphics
        instructions, software-GL buffers): after one visit of each flow that was most of the
        kiosk's memory above a bare Kivy app. A screen is built again on its next visit (10-25 ms
        here), in the same state as a first visit: nothing a visitor typed can stay in it."""
        keep = ("home", self.sm.current)
        dropped = [s for s in self.sm.screens if s.name not in keep]
        for screen in dropped:
            self.keyboard.detach(screen)
            self.sm.remove_widget(screen)
            scrub_labels(screen)  # wiped, but the last screen left lives on until home is drawn
        if dropped and not self.release_pending:
            self.release_pending = True
            Window.bind(on_flip=self._give_back)
            Window.canvas.ask_update()

    def _give_back(self, *_: Any) -> None:
        """Once home is on screen: collect the dropped trees, then trim the C heap.

        40-140 ms here for a whole flow's screens (one collection; collecting a screen per frame
        cost more in all, each collection scanning the screens still waiting), about 2 ms trimming."""
        Window.unbind(on_flip=self._give_back)
        transition = self.sm.transition  # finished by now (even NoTransition ends on a clock tick)
        if not transition.is_active and transition.screen_out is not None and transition.screen_out.manager is None:
            transition.screen_out = self.sm.current_screen  # it held the last screen left (it cannot be None)
        found, gc_ms, trim_ms = 0, 0.0, 0.0
        try:
            found, gc_ms = heap.collect()
            trim_ms = heap.trim()
        finally:
            self.release_pending = False
            self.event("memory_given_back", objects=found, gc_ms=gc_ms, trim_ms=trim_ms)

    @property
    def current(self) -> str:
        return self.sm.current

    def wipe_all(self) -> None:
        """Forget every flow (drafts, fields, screens); the display language stays (home() resets it)."""
        self.worker.cancel_results()
        self.drafts.wipe()
        self.staff_id = None
        self.link_visit_id = None
        self._scan_buffer = ""
        for screen in self.sm.screens:
            try:
                screen.wipe()
            except Exception as exc:  # one screen's bug must not keep another's data
                log_without_data(exc, "wipe")
        # the cleared labels are re-laid out on the next frame; Kivy keeps an empty label's old layout
        kb = self.keyboard.kb  # its candidate bar is out of its tree while a layout without Chinese shows
        Clock.schedule_once(lambda dt: [scrub_labels(w) for w in (*self.sm.screens, kb, kb.candidate_bar)], 0)
        Cache.remove("textinput.label")
        Cache.remove("textinput.width")
        try:
            from kiosk.ime.pinyin import get_engine

            get_engine().clear_cache()  # compositions typed (a name's pinyin) are cache keys there
        except Exception as exc:
            log_without_data(exc, "wipe")
        self.wipes += 1
