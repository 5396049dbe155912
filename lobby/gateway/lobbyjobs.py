"""The lobby's timers that belong to the always-on gateway, not the kiosk.

SLA overdue checks every minute, satisfaction periods and unreturned passes
daily (lobby/services decides what they mean; the gateway only keeps time),
so they run even while the touchscreen is restarting or switched off.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from drivers.health import DeviceHealth

log = logging.getLogger(__name__)


class LobbyJobs:
    name = "lobby-jobs"

    def __init__(self, lobby: Any, scheduler: Any) -> None:
        self.lobby = lobby
        scheduler.every("lobby.every_minute", 60, lobby.every_minute, first_after_s=5.0)
        scheduler.daily("lobby.daily", dt.time(0, 5), lambda day: lobby.daily())

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def device_health(self) -> list[DeviceHealth]:
        return []
