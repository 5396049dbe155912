"""The kiosk's heartbeat for the gateway (and so central), and restarting on a changed config
(or once the UI font it started building is ready: kiosk/fonts.py).

Why the kiosk restarts itself rather than a systemd path unit restarting it: the app
knows whether somebody is using the screen. It waits until the home screen is idle
(no flow, no overlay, no staff session), so a visitor half-way through a check-in is
never cut off, and it needs no privilege (a path unit would have to run
`systemctl restart` as root). Under systemd (INVOCATION_ID set) the process ends
cleanly and `Restart=always` starts it on the new file; elsewhere (a development run,
the tests) it executes itself again.
"""

from __future__ import annotations

import datetime as dt
import logging

from kiosk.fonts import ui_faces_built

log = logging.getLogger(__name__)

CONFIG_CHECK_S = 5.0


class LivenessMixin:
    """Part of KioskApp."""

    last_touch_ts: str | None = None
    reload_requested: bool = False
    _config_checking: bool = False

    def _note_touch(self) -> None:
        self.last_touch_ts = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    def _heartbeat(self, _dt: float = 0.0) -> None:
        screen = self.sm.current if getattr(self, "sm", None) is not None else ""
        if self.overlay_name:
            screen = f"{screen}+{self.overlay_name}"
        self.worker.run(lambda: self.rt.write_heartbeat(screen, self._ready, self.last_touch_ts))

    def _check_config(self, _dt: float = 0.0) -> None:
        """Every CONFIG_CHECK_S: a changed file is validated on a worker (in a child process,
        about a second), then acted on here, on the UI thread."""
        if self.reload_requested or self._config_checking:
            return
        self._config_checking = True
        self.worker.run(self.rt.config_changed, then=self._config_checked, error=self._config_check_failed,
                        keep=True)

    def _config_check_failed(self, exc: BaseException) -> None:
        self._config_checking = False
        log.error("checking the configuration file failed: %s", type(exc).__name__)

    def _config_checked(self, version: int | None) -> None:
        self._config_checking = False
        if self.reload_requested:
            return
        font_built = version is None and ui_faces_built()
        if (version is None and not font_built) or not self._pristine():
            return  # checked again in CONFIG_CHECK_S: once the screen is idle, the restart happens
        if font_built:
            log.info("the kiosk's UI font is built: restarting the kiosk to draw with it")
        else:
            log.info("configuration changed (version %s -> %s): restarting the kiosk to apply it",
                     self.cfg.version, version)
        self.reload_requested = True
        self.event("reload", version=version or self.cfg.version, reason="ui font" if font_built else "config")
        self.stop()

    def _start_liveness(self) -> None:
        from kivy.clock import Clock

        from lobby.liveness import HEARTBEAT_S

        Clock.schedule_interval(self._heartbeat, HEARTBEAT_S)
        Clock.schedule_interval(self._check_config, CONFIG_CHECK_S)
        self._heartbeat()
