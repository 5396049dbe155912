"""Configuration: one validated TOML file (see config/example.toml).

It owns the model, loading, validation and updates of the product's configuration;
the drivers never see it (callers hand them plain arguments).

May import: mqtt_bridge (its settings), drivers (the meters' point tables) and,
inside the meter checks, lobby.meters; never kiosk.

The names below are imported on first use, not with the package: a process that
only reads its settings (lobby/config/readonly.py) must be able to choose plain
records over pydantic before the model module is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lobby.config.loader import ConfigError, load_config, parse_config, read_secret, state_path, validate_mapping
    from lobby.config.model import Config

__all__ = ["Config", "ConfigError", "load_config", "parse_config", "read_secret", "state_path", "validate_mapping"]
_HOME = {"Config": "lobby.config.model", **{name: "lobby.config.loader" for name in __all__ if name != "Config"}}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
