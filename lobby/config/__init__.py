"""Configuration: one validated TOML file (see config/example.toml).

It owns the model, loading, validation and updates of the product's configuration;
the drivers never see it (callers hand them plain arguments).

May import: mqtt_bridge (its settings), drivers (the meters' point tables) and,
inside the meter checks, lobby.meters; never kiosk.
"""

from lobby.config.loader import ConfigError, load_config, parse_config, read_secret, state_path, validate_mapping
from lobby.config.model import Config

__all__ = ["Config", "ConfigError", "load_config", "parse_config", "read_secret", "state_path", "validate_mapping"]
