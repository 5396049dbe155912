"""Configuration: one validated TOML file (see config/example.toml)."""

from lobby.config.loader import ConfigError, load_config, parse_config, read_secret, state_path, validate_mapping
from lobby.config.model import Config

__all__ = ["Config", "ConfigError", "load_config", "parse_config", "read_secret", "state_path", "validate_mapping"]
