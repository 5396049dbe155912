"""Screens and the way back: created on first visit, reused; home wipes every flow."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kivy.cache import Cache
from kivy.clock import Clock

from kiosk.crash import log_without_data
from kiosk.widgets import scrub_labels

log = logging.getLogger(__name__)


class NavigationMixin:
    """Part of KioskApp: needs self.sm, self.factories, self.history, self.drafts, self.worker."""

    def register(self, name: str, factory: Callable[[], Any]) -> None:
        self.factories[name] = factory

    def screen(self, name: str) -> Any:
        if not self.sm.has_screen(name):
            widget = self.factories[name]()
            widget.name = name
            self.sm.add_widget(widget)
        return self.sm.get_screen(name)

    def show(self, name: str, push: bool = True) -> Any:
        screen = self.screen(name)
        current = self.sm.current
        if push and current and current != name:
            self.history.append(current)
        if current == name:
            screen.refresh()
        self.sm.current = name
        return screen

    def go(self, name: str) -> Any:
        return self.show(name, push=True)

    def replace(self, name: str) -> Any:
        return self.show(name, push=False)

    def back(self) -> None:
        while self.history:
            name = self.history.pop()
            if name != self.sm.current:
                self.sm.current = name
                return
        self.home()

    def home(self) -> None:
        """Back to the start: every flow is wiped (no personal data stays behind)."""
        self.wipe_all()
        self.history.clear()
        self.show("home", push=False)

    @property
    def current(self) -> str:
        return self.sm.current

    def wipe_all(self) -> None:
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
        self.lang = self.default_lang
