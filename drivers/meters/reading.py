"""What one poll of one meter returns to the gateway."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from drivers.health import DeviceHealth


class Quality(str, enum.Enum):
    GOOD = "good"  # read from the meter in this poll
    STALE = "stale"  # this poll failed; the last good value, with the time it was read
    ERROR = "error"  # this poll failed and there is no earlier value


@dataclass(frozen=True, slots=True)
class PointValue:
    name: str
    value: float | None
    unit: str
    quality: Quality
    cumulative: bool = False  # an ever-increasing counter (energy, volume)
    read_mono: float | None = None  # time.monotonic() when the value came off the wire
    error: str = ""  # why this poll did not produce a fresh value

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "value": self.value, "unit": self.unit,
                "quality": self.quality.value, "cumulative": self.cumulative,
                "read_mono": self.read_mono, "error": self.error}


@dataclass(frozen=True)
class Reading:
    device_id: str
    protocol: str
    values: dict[str, PointValue]
    health: DeviceHealth
    started_mono: float
    duration_s: float
    attributes: dict[str, object] = field(default_factory=dict)  # e.g. valve state, meter clock

    @property
    def ok(self) -> bool:
        return all(v.quality is Quality.GOOD for v in self.values.values())

    def value(self, name: str) -> float | None:
        return self.values[name].value

    def as_dict(self) -> dict[str, object]:
        return {"device_id": self.device_id, "protocol": self.protocol,
                "values": {k: v.as_dict() for k, v in self.values.items()},
                "attributes": dict(self.attributes), "health": self.health.as_dict(),
                "started_mono": self.started_mono, "duration_s": self.duration_s}
