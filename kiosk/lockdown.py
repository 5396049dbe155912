"""Lockdown: no Escape, no F1, no window close; a barcode scanner's keystrokes go to the screen that wants them."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class LockdownMixin:
    """Part of KioskApp: keyboard and window events."""

    def _on_request_close(self, *_: Any, **__: Any) -> bool:
        if self.allow_close:
            return False
        log.info("window close request ignored (kiosk)")
        return True

    def _on_keyboard(self, _win: Any, key: int, *_: Any) -> bool:
        """Escape never leaves the kiosk (except a development window); F1 never opens settings."""
        if key == 282:  # F1
            return True
        return key == 27 and not self.allow_close

    def _on_key_down(self, _win: Any, key: int, _scancode: int, _text: str | None, _mods: list[str]) -> bool:
        self.poke()
        if key in (13, 271):  # Enter: a scanner finished a line
            line, self._scan_buffer = self._scan_buffer, ""
            screen = self.sm.current_screen
            if line and getattr(screen, "scanner", False) and self.overlay is None:
                screen.on_scan(line)
            return True
        if key == 8 and self._scan_buffer:
            self._scan_buffer = self._scan_buffer[:-1]
        return False

    def _on_textinput(self, _win: Any, text: str) -> None:
        self.poke()
        screen = self.sm.current_screen
        if getattr(screen, "scanner", False) and len(self._scan_buffer) < 256:
            self._scan_buffer += text
