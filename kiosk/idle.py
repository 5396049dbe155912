"""Idle wipe, screen saver, night dimming and the clock on screen."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from kiosk.timing import in_window

log = logging.getLogger(__name__)

WEEKDAYS_ZH = "一二三四五六日"


class IdleMixin:
    """Part of KioskApp: after kiosk.idle_timeout_s without a touch every flow is wiped."""

    def poke(self) -> None:
        self.last_activity = time.monotonic()
        if self.dimmed:
            self.dim_layer.opacity = 0

    def _on_any_touch(self, _win: Any, touch: Any) -> bool:
        self.poke()
        self._note_touch()
        if self.saver is not None:
            self.hide_saver()
            return True  # the touch that wakes the screen presses nothing
        if self.guarded:
            log.debug("touch ignored: the screen changed a moment ago")
            return True  # the second tap of a double tap presses nothing on the new screen
        return False

    def warning_s(self) -> float:
        """How long "Still there?" counts down before the wipe: kiosk.idle_warning_s, at most three quarters
        of the timeout (a quarter of it, at least, passes untouched before the warning)."""
        k = self.cfg.kiosk
        return max(0.0, min(float(k.idle_warning_s), k.idle_timeout_s * 0.75))

    def _check_idle(self, _dt: float) -> None:
        idle = time.monotonic() - self.last_activity
        k = self.cfg.kiosk
        warn = self.warning_s()
        warning = self.overlay if getattr(self.overlay, "tid", "") == "idle_warning" else None
        if idle >= k.idle_timeout_s and not self._pristine():
            log.info("idle for %.0f s: flows wiped, home screen shown", idle)
            self.close_overlay()
            self.home()
            self.event("idle_wipe")
        elif warning is not None and idle < k.idle_timeout_s - warn:
            self.close_overlay()  # touched meanwhile (a key, a card): the flow goes on
        elif warn > 0 and idle >= k.idle_timeout_s - warn and warning is None and self.overlay is None \
                and self.sm.current != "home" and self.saver is None:
            from kiosk.screens.overlays import IdleWarning

            if self._idle_warning is None:
                self._idle_warning = IdleWarning()
            self.show_overlay(self._idle_warning)
            self._idle_warning.start(k.idle_timeout_s - idle)
            self.event("idle_warning", seconds=math.ceil(k.idle_timeout_s - idle), warning_s=warn)
        if idle >= k.screensaver_after_s and self.saver is None and self._pristine() and not self.evac_visible:
            self.show_saver()

    def _pristine(self) -> bool:
        return self.sm.current == "home" and not self.history and self.overlay is None and \
            self.staff_id is None and self.lang == self.default_lang

    def show_saver(self) -> None:
        from kiosk.screens.overlays import ScreenSaver

        if self.saver is None:
            self.saver = ScreenSaver()
            self.root_layout.add_widget(self.saver, index=0)

    def hide_saver(self) -> None:
        if self.saver is not None:
            self.saver.stop()
            self.root_layout.remove_widget(self.saver)
            self.saver = None

    def _check_dim(self) -> None:
        k = self.cfg.kiosk
        now = self.services.ctx.now().local(self.services.ctx.tz).time()
        self.dimmed = in_window(now, k.dim_from, k.dim_to)
        idle = time.monotonic() - self.last_activity
        self.dim_layer.opacity = 1 if self.dimmed and idle > 5 else 0

    def _tick_clock(self, _dt: float) -> None:
        local = self.services.ctx.now().local(self.services.ctx.tz)
        self.clock_text = local.strftime("%H:%M")
        if self.lang == "en":
            self.date_text = local.strftime("%a %d %b %Y")
        else:
            self.date_text = f"{local.year}年{local.month}月{local.day}日 星期{WEEKDAYS_ZH[local.weekday()]}"
        if self.dimmed and time.monotonic() - self.last_activity > 5:
            self.dim_layer.opacity = 1
