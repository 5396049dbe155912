"""Topic names of the MQTT contract (shared/ARCHITECTURE.md, docs/asyncapi.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEGMENT = re.compile(r"^[A-Za-z0-9_.:-]{1,120}\Z")


@dataclass(frozen=True)
class Topics:
    base: str  # lobby/<site_id>/<gateway_id>
    discovery_prefix: str = "homeassistant"
    gateway_id: str = ""

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    def event(self, kind: str) -> str:
        return f"{self.base}/events/{kind}"

    def batch(self, kind: str) -> str:
        """Bulk events, many to a message (schemas/batch.json)."""
        return f"{self.base}/batch/{kind}"

    def state(self, subject: str) -> str:
        """The newest live event of one subject, retained (e.g. `meter/<meter_id>`, `health/gateway`)."""
        return f"{self.base}/state/{subject}"

    def alert(self, key: str) -> str:
        return f"{self.base}/alerts/{key}"

    @property
    def commands(self) -> str:
        return f"{self.base}/cmd/+"

    def command_filters(self, dots_split: bool = False) -> list[str]:
        """What the gateway subscribes to for commands. A broker that reads '.' as a level
        separator (RabbitMQ's MQTT plugin) routes `cmd/alert.ack` as `cmd/alert/ack`: `cmd/+/+`
        too (no command name has more than one dot)."""
        return [self.commands, f"{self.base}/cmd/+/+"] if dots_split else [self.commands]

    def command_name(self, topic: str) -> str | None:
        """The command name from an incoming topic, or None if it is not one of ours."""
        prefix = f"{self.base}/cmd/"
        if not topic.startswith(prefix):
            return None
        name = topic[len(prefix):]
        if "/" in name:
            # RabbitMQ's MQTT plugin (3.x) swaps '.' and '/' between MQTT topics and AMQP routing
            # keys, so `cmd/config.update` reaches a subscriber of `cmd/+` as `cmd/config/update`
            # (one routing-key word, matched by `+`). A broker that keeps topics as they are never
            # delivers a deeper topic to `cmd/+`, and no command name holds a '/': so it was a dot.
            parts = name.split("/")
            if "" in parts or parts[-1] == "result":
                return None
            name = ".".join(parts)
        return name

    def command_result(self, name: str) -> str:
        # A name that is not a safe topic segment still gets an answer, on a fixed topic.
        return f"{self.base}/cmd/{name if _SEGMENT.match(name) else '_invalid'}/result"

    @property
    def discovery(self) -> str:
        return f"{self.discovery_prefix}/device/{self.gateway_id}/config"

    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"
