"""What appears above the current screen: card-tap confirmations, the apology after an
error, short messages, the screen saver, night dimming and the evacuation banner.

An overlay covers the whole window and takes every touch; it closes by itself after a
few seconds (or with its button) and the screen below is exactly as it was.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.widget import Widget

from kiosk import i18n


class Overlay(FloatLayout):
    tid = StringProperty("overlay")

    def on_touch_down(self, touch: Any) -> bool:
        super().on_touch_down(touch)
        return True

    def on_touch_move(self, touch: Any) -> bool:
        super().on_touch_move(touch)
        return True

    def on_touch_up(self, touch: Any) -> bool:
        super().on_touch_up(touch)
        return True

    def closing(self) -> None:
        """Called when the overlay is removed."""


OK_ACTION = [{"key": "tap.dismiss", "value": "ok", "style": "secondary", "tid": "overlay_ok"}]


class MessageOverlay(Overlay):
    """A titled bilingual message; closes after `seconds` or with OK, then calls `then`.

    The app keeps one instance and reconfigures it for every message (`configure`), so a
    card tap only changes label texts: no widget is built per tap.
    """

    title_key = StringProperty("")
    title_zh = StringProperty("")
    title_en = StringProperty("")
    body_zh = StringProperty("")
    body_en = StringProperty("")
    detail_zh = StringProperty("")
    detail_en = StringProperty("")
    style = StringProperty("info")  # info, ok, warn, error
    seconds = NumericProperty(6.0)
    actions = ListProperty([])

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._then: Callable[[], None] | None = None
        self._on_action: Callable[[Any], None] | None = None
        self._timer: Any = None

    def configure(self, message: Any = None, *, title_key: str = "", style: str = "info", seconds: float = 6.0,
                  then: Callable[[], None] | None = None, on_action: Callable[[Any], None] | None = None,
                  actions: list[dict[str, Any]] | None = None, tid: str = "notice", detail: str = "") -> None:
        self.tid = tid
        self.title_key, self.title_zh, self.title_en = title_key, "", ""
        self.body_zh, self.body_en = (message.zh, message.en) if message is not None else ("", "")
        self.detail_zh = self.detail_en = detail
        self.style = style
        self.seconds = seconds
        self.actions = actions or OK_ACTION
        self.ids.buttons.show(self.actions, self.act)
        self._then, self._on_action = then, on_action
        if self._timer is not None:
            self._timer.cancel()
        self._timer = Clock.schedule_once(lambda dt: self.dismiss(), seconds) if seconds > 0 else None

    def act(self, value: Any) -> None:
        on_action = self._on_action
        self.dismiss()
        if on_action is not None:
            on_action(value)

    def dismiss(self) -> None:
        app = App.get_running_app()
        if app.overlay is self:
            app.close_overlay()

    def closing(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._on_action = None
        then, self._then = self._then, None
        if then is not None:
            Clock.schedule_once(lambda dt: then(), 0)


def tap_settings(result: Any) -> dict[str, Any]:
    """How a card tap is confirmed (patrol point, check-out, not recognised)."""
    route = result.route
    if route == "patrol":
        title = "tap.patrol.title" if result.ok else "tap.patrol.problem"
        style, seconds = ("ok" if result.ok else "warn"), 5.0
    elif route == "checkout":
        title, style, seconds = "tap.checkout.title", ("ok" if result.ok else "warn"), 6.0
    else:
        title, style, seconds = "", "warn", 6.0
    scan = result.patrol
    detail = f"{scan.visited or 0}/{scan.points}" if scan is not None and scan.points else ""
    return {"title_key": title, "style": style, "seconds": seconds, "tid": f"tap_{route}", "detail": detail}


class ApologyOverlay(Overlay):
    """Shown instead of a traceback: apologise, say what to do next, offer to try again."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(tid="apology", **kw)

    def retry(self) -> None:
        app = App.get_running_app()
        app.close_overlay()
        app.home()


class IdleWarning(Overlay):
    """"还在吗？Still there?" with the seconds left before the idle wipe; any touch keeps the flow."""

    seconds = NumericProperty(0)

    def __init__(self, **kw: Any) -> None:
        super().__init__(tid="idle_warning", **kw)
        self._deadline = 0.0
        self._tick: Any = None

    def start(self, seconds_left: float) -> None:
        import time

        self._deadline = time.monotonic() + seconds_left
        self._update()
        if self._tick is None:
            self._tick = Clock.schedule_interval(lambda dt: self._update(), 0.25)

    def _update(self) -> None:
        import math
        import time

        left = max(0, math.ceil(self._deadline - time.monotonic()))
        if left != self.seconds:
            self.seconds = left

    def on_touch_down(self, touch: Any) -> bool:
        self.keep()
        return True

    def keep(self) -> None:
        """The visitor is there: the warning goes and the flow stays as it was."""
        app = App.get_running_app()
        app.poke()
        if app.overlay is self:
            app.close_overlay()
        app.event("idle_kept")

    def closing(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None


class ScreenSaver(FloatLayout):
    """Black screen with the time and a hint that move every few seconds (no burn-in)."""

    tid = StringProperty("saver")
    spot = ListProperty([0.3, 0.5])

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._move = Clock.schedule_interval(self._step, 8.0)
        self.bind(size=self._step)

    def _step(self, *_: Any) -> None:
        app = App.get_running_app()
        w, h = max(1.0, self.width), max(1.0, self.height)
        mx = min(0.5, (app.tap * 3 + 4) / w)  # half the moving box, so it never leaves the screen
        my = min(0.5, (app.tap * 1.3 + 4) / h)
        self.spot = [random.uniform(mx, 1 - mx), random.uniform(my, 1 - my)]

    def stop(self) -> None:
        self._move.cancel()

    def on_touch_down(self, touch: Any) -> bool:
        return True


class DimLayer(Widget):
    """Night dimming: a translucent black layer that lets touches through."""

    def on_touch_down(self, touch: Any) -> bool:
        return False


class EvacBanner(BoxLayout):
    """The evacuation notice across the top of every screen while a roll call is open."""

    shown = BooleanProperty(False)


def message_pair(zh: str, en: str, lang: str) -> tuple[str, str]:
    return i18n.order(zh, en, lang)
