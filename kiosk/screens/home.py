"""The home screen: greeting, the five choices, date and time, approved notices."""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.properties import ListProperty

from lobby.services.notices import current_notices
from kiosk.widgets import KScreen


class HomeScreen(KScreen):
    notices = ListProperty([])  # [(title, body)] at most 3

    def __init__(self, **kw: Any) -> None:
        super().__init__(title_key="home.greeting", show_back=False, show_home=False, **kw)
        Clock.schedule_interval(lambda dt: self._load() if self.manager and self.manager.current == self.name
                                else None, 30.0)

    def refresh(self) -> None:
        self._load()

    def _load(self) -> None:
        self.app.worker.run(current_notices, self.app.services.ctx, then=self._show, keep=True)

    def _show(self, found: list[Any]) -> None:
        items = [(n.title, n.body) for n in found[:3]]
        if items != self.notices:
            self.notices = items

    def start(self, flow: str) -> None:
        """A flow from its start, nothing of an earlier one kept; in the language chosen here."""
        app = self.app
        app.wipe_all()
        app.history.clear()
        for f in getattr(app, "flows", {}).values():
            if hasattr(f, "editing"):
                f.editing = False
        app.go({"checkin": "ci_name", "checkout": "co_start", "feedback": "fb_faces", "ticket": "tk_kind",
                "track": "tr_entry"}[flow])
