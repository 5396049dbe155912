"""The bridge's own settings: the broker connection and the outbox budget.

The bridge knows nothing of the lobby's configuration file. The product's
config (lobby.config) embeds `MqttConfig` as its `[mqtt]` section and hands the
bridge a `BridgeSettings` built from it (`Config.bridge`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Text = Annotated[str, Field(min_length=1, max_length=200)]


class Section(BaseModel):
    """Strict: no unknown keys, no silent type coercion, assignments re-validated."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class TlsConfig(Section):
    enabled: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure_skip_verify: bool = False  # for bench rigs only; doctor warns loudly

    @model_validator(mode="after")
    def _pairs(self) -> "TlsConfig":
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file must be given together")
        return self


class DiscoveryConfig(Section):
    enabled: bool = True
    prefix: Text = "homeassistant"


class BatchConfig(Section):
    """Bulk telemetry in batches: many events in one MQTT message on <base>/batch/<kind>."""

    enabled: bool = True
    max_items: int = Field(100, ge=1, le=1000)  # events per message; a batch is acknowledged (and re-sent) whole
    max_bytes: int = Field(65536, ge=1024, le=1_048_576)  # payload size; an event bigger than this goes alone


class MqttConfig(Section):
    host: Text
    port: int = Field(1883, ge=1, le=65535)
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    client_id: str | None = None  # default: the gateway id
    base_topic: str | None = None  # default: lobby/<site_id>/<gateway_id>
    keepalive_s: int = Field(30, ge=5, le=3600)
    username: str | None = None
    password: str | None = Field(None, repr=False)
    password_file: str | None = None
    tls: TlsConfig = TlsConfig()
    inflight: int = Field(20, ge=1, le=1000)
    reconnect_min_s: float = Field(1.0, gt=0, le=60)
    reconnect_max_s: float = Field(60.0, gt=0, le=3600)
    historical_after_s: float = Field(60.0, gt=0, le=86400)
    command_max_bytes: int = Field(65536, ge=1024, le=16 * 1024 * 1024)
    command_max_age_s: float = Field(86400, ge=60, le=30 * 86400)  # older commands are refused (commands/freshness.py)
    command_max_per_s: float = Field(50, gt=0, le=10_000)  # more are answered rate_limited (mqtt_bridge/command_lane.py)
    command_queue_max: int = Field(200, ge=1, le=100_000)  # commands waiting for the command thread
    batch: BatchConfig = BatchConfig()
    discovery: DiscoveryConfig = DiscoveryConfig()

    @model_validator(mode="after")
    def _consistent(self) -> "MqttConfig":
        if self.password is not None and self.password_file is not None:
            raise ValueError("give either password or password_file, not both")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must not be less than reconnect_min_s")
        if self.base_topic is not None and (
            not self.base_topic or any(c in self.base_topic for c in "#+\0")
            or self.base_topic.startswith("/") or self.base_topic.endswith("/")
        ):
            raise ValueError("base_topic must be a plain topic path without wildcards or edge slashes")
        return self


@dataclass(frozen=True)
class BridgeSettings:
    """Everything the store-and-forward bridge needs, and nothing of the lobby."""

    mqtt: MqttConfig
    base_topic: str  # lobby/<site_id>/<gateway_id> unless the config names another
    client_id: str
    gateway_id: str
    bulk_max_rows: int = 1_000_000
    bulk_max_bytes: int = 512_000_000
    disk_min_free_bytes: int = 64_000_000
    command_log_max_rows: int = 5000
    command_log_max_bytes: int = 2_000_000


def read_secret(inline: str | None, file: str | None) -> str | None:
    """A secret given inline or in a file (first line, whitespace stripped)."""
    if file is not None:
        return Path(file).read_text(encoding="utf-8").splitlines()[0].strip() if Path(file).stat().st_size else ""
    return inline
