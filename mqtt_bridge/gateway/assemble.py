"""Building the gateway from the configuration: which components run, real or simulated."""

from __future__ import annotations

from pathlib import Path

from ..config import Config
from .service import GatewayService


def build_gateway(cfg: Config, config_path: Path | None, simulate: bool = False) -> GatewayService:
    return GatewayService(cfg, config_path, simulate=simulate)
