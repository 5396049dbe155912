"""The bridge's own settings: the broker connection and the outbox budget.

The bridge knows nothing of the lobby's configuration file. The product's
config (lobby.config) embeds `MqttConfig` as its `[mqtt]` section and hands the
bridge a `BridgeSettings` built from it (`Config.bridge`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from mqtt_bridge.modelkit import BaseModel, ConfigDict, Field, model_validator

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


class Endpoint(NamedTuple):
    """One broker address: a single broker, or one node of a cluster."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


_ENDPOINT_RE = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9._-]{1,200}))(?::(?P<port>\d{1,5}))?\Z", re.ASCII)
MAX_ENDPOINTS = 16


def parse_endpoint(text: str, default_port: int) -> Endpoint:
    """'host', 'host:port', '[v6]' or '[v6]:port' (the port defaults to [mqtt] port)."""
    match = _ENDPOINT_RE.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a broker address: write \"host:port\" (e.g. \"mqtt-1.example.com:8883\")")
    port = int(match["port"]) if match["port"] else default_port
    if not 1 <= port <= 65535:
        raise ValueError(f"{text!r}: the port must be 1-65535")
    return Endpoint(match["v6"] or match["host"], port)


class MqttConfig(Section):
    # One broker (`host` and `port`) or a cluster's nodes (`hosts`, "host:port" each, tried in
    # order). Give one of the two; with `hosts`, `host` and `port` are filled from its first entry.
    host: Text
    port: int = Field(1883, ge=1, le=65535)
    hosts: list[Text] | None = Field(None, min_length=1, max_length=MAX_ENDPOINTS)
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
    # "rabbitmq": RabbitMQ's MQTT plugin (3.x), measured on a cluster (docs/scaling.md). It reads a
    # '.' in a topic as a level separator, so commands with a dot in their name (`cmd/alert.ack`)
    # arrive as `cmd/alert/ack` and need the `cmd/+/+` subscription too; and a clean session's QoS 1
    # subscription is a durable queue on one node that refuses every re-subscription while that node
    # is down, so the gateway subscribes at QoS 0 (with a clean session 0 loses nothing 1 would keep:
    # unacknowledged messages die with the connection either way).
    broker_kind: Literal["standard", "rabbitmq"] = "standard"
    batch: BatchConfig = BatchConfig()
    discovery: DiscoveryConfig = DiscoveryConfig()

    @model_validator(mode="before")
    @classmethod
    def _one_broker_or_a_list(cls, data: Any) -> Any:
        """`hosts` fills `host` and `port` from its first entry (what code that names "the broker" reads)."""
        if not isinstance(data, dict) or data.get("hosts") is None:
            return data
        hosts = data["hosts"]
        if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) for h in hosts):
            return data  # the field's own validation names the problem
        port = data.get("port", 1883)
        endpoints = [parse_endpoint(h, port if isinstance(port, int) else 1883) for h in hosts]
        first = endpoints[0]
        if "host" in data and (data["host"], data.get("port", first.port)) != tuple(first):
            raise ValueError("give either host (one broker) or hosts (a cluster's nodes, \"host:port\" each), not both")
        # Written out in full, so the list means the same whatever `port` says afterwards.
        return {**data, "host": first.host, "port": first.port, "hosts": [str(e) for e in endpoints]}

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """The brokers to try, in order: `hosts`, or the single `host` and `port`."""
        if self.hosts is None:
            return (Endpoint(self.host, self.port),)
        return tuple(parse_endpoint(h, self.port) for h in self.hosts)

    @model_validator(mode="after")
    def _consistent(self) -> "MqttConfig":
        if self.hosts is not None:
            endpoints = [parse_endpoint(h, self.port) for h in self.hosts]  # raises with the entry named
            if len(set(endpoints)) != len(endpoints):
                raise ValueError("hosts names the same broker twice")
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
