"""Card taps at the kiosk: routed on the worker (lobby.taps), shown on the UI thread."""

from __future__ import annotations

import time
from typing import Any

from kivy.core.window import Window


class TapsMixin:
    """Part of KioskApp: reader callbacks arrive on each reader's thread."""

    def _on_tag(self, event: Any) -> None:
        """On the reader's thread: hand the tap to the worker pool at once."""
        if getattr(event, "kind", None) != "tap":
            return
        seen = time.monotonic()
        link = self.link_visit_id
        self.worker.run(self.rt.router.route, event.uid, event.reader_id, link,
                        then=lambda result: self._show_tap(result, seen), keep=True)

    def _show_tap(self, result: Any, seen: float) -> None:
        from kiosk.screens.overlays import tap_settings

        self.poke()
        self.hide_saver()
        route = result.route
        if route == "staff":
            self.close_overlay()
            self.wipe_all()
            self.lang = self.default_lang
            self.history.clear()
            self.staff_id = result.staff_id
            self.show("staff", push=False)
            self.drop_screens()  # the visitor's screens go, as they do at home
        elif route == "link":
            screen = self.screen("ci_done")
            screen.card_result(result)
        else:
            on_checkout = self.sm.current.startswith("co_")
            then = self.home if route == "checkout" and result.ok and on_checkout else None
            self.say(result.message, then=then, **tap_settings(result))
        self._mark_shown(route, seen)

    def _mark_shown(self, route: str, seen: float) -> None:
        def drawn(*_: Any) -> None:
            Window.unbind(on_flip=drawn)
            entry = {"route": route, "seen": seen, "drawn": time.monotonic()}
            self.tap_log = (self.tap_log + [entry])[-200:]
            self.event("tap_drawn", route=route, seen=seen)

        Window.bind(on_flip=drawn)
        Window.canvas.ask_update()  # the same message again changes no pixel: draw the frame anyway
