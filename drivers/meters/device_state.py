"""Per-device bookkeeping on a bus: counters, last good values, health and backoff."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from drivers.health import DeviceHealth, HealthReporter, HealthState

from drivers.meters.exchanges import FailKind
from drivers.meters.reading import PointValue

_COUNTER_FOR = {
    FailKind.TIMEOUT: "timeouts",
    FailKind.CHECKSUM: "checksum_errors",
    FailKind.MALFORMED: "malformed",
    FailKind.WRONG_ADDRESS: "wrong_address",
    FailKind.EXCEPTION: "exceptions",
    FailKind.PORT: "port_errors",
}


@dataclass(slots=True)
class Counters:
    """Transactions by outcome; a retried request counts once per attempt."""

    ok: int = 0
    timeouts: int = 0
    checksum_errors: int = 0  # sum check (DL/T 645, CJ/T 188) or CRC (Modbus)
    malformed: int = 0  # noise, impossible lengths, bad BCD, unexpected replies
    exceptions: int = 0  # Modbus exception / DL/T 645 and CJ/T 188 abnormal replies
    wrong_address: int = 0
    port_errors: int = 0
    retries: int = 0
    skipped_polls: int = 0  # polls not sent while the device was backed off

    def count(self, kind: FailKind) -> None:
        name = _COUNTER_FOR[kind]
        setattr(self, name, getattr(self, name) + 1)

    def snapshot(self) -> Counters:
        return replace(self)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class DeviceState:
    """Health follows polls: OK, DEGRADED on partial failure, LOST after repeated silence."""

    def __init__(self, device_id: str, *, lost_after: int, backoff_initial: float,
                 backoff_max: float) -> None:
        self.device_id = device_id
        self.reporter = HealthReporter(device_id, HealthState.DEGRADED, "not polled yet")
        self.counters = Counters()
        self.last_good: dict[str, PointValue] = {}
        self.attributes: dict[str, object] = {}
        self.failed_polls = 0
        self.retry_at = 0.0
        self._lost_after = lost_after
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._backoff = backoff_initial

    @property
    def health(self) -> DeviceHealth:
        return self.reporter.health

    def backing_off(self, now: float) -> bool:
        return self.health.state is HealthState.LOST and self.failed_polls > 0 and now < self.retry_at

    def answered(self, problem: str) -> None:
        """The device gave at least one good value; ``problem`` is empty if all went well."""
        self.failed_polls = 0
        self._backoff = self._backoff_initial
        if problem:
            self.reporter.set(HealthState.DEGRADED, problem)
        else:
            self.reporter.set(HealthState.OK, "")

    def refused(self, reason: str) -> None:
        """The device answers but refuses every request: alive, yet no use."""
        self.failed_polls = 0
        self._backoff = self._backoff_initial
        self.reporter.set(HealthState.DEGRADED, reason)

    def silent(self, now: float, reason: str) -> None:
        """No usable answer at all in this poll."""
        self.failed_polls += 1
        if self.failed_polls < self._lost_after:
            self.reporter.set(HealthState.DEGRADED, reason)
            return
        self.reporter.set(HealthState.LOST, reason)
        self.retry_at = now + self._backoff
        self._backoff = min(self._backoff * 2, self._backoff_max)

    def port_down(self, reason: str) -> None:
        self.reporter.set(HealthState.LOST, reason)

    @property
    def offline_reason(self) -> str | None:
        health = self.health
        return health.reason if health.state is HealthState.LOST else None
