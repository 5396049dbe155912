"""What the lobby's command handlers need from their host."""

from __future__ import annotations

from pathlib import Path

from lobby.config import Config
from mqtt_bridge.alerts import AlertEngine


class CommandContext:
    """What handlers need from their host: the config in force and where it lives."""

    def __init__(self, cfg: Config, config_path: Path | None, alerts: AlertEngine, card_key: bytes) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.alerts = alerts
        self.card_key = card_key
