"""What one poll of one device added up to: fresh values, per-value errors, and its health verdict."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from drivers.meters.device_state import DeviceState
from drivers.meters.exchanges import Answer, Exchange, FailKind, Observation, PointDef
from drivers.meters.reading import PointValue, Quality

# After these, the rest of the device's poll is not attempted; a bad checksum may be a passing
# burst of noise, so the next request still goes out.
GIVE_UP = frozenset({FailKind.TIMEOUT, FailKind.MALFORMED, FailKind.WRONG_ADDRESS})

_ADVICE = {
    FailKind.TIMEOUT: "check power, address, wiring and baud rate",
    FailKind.CHECKSUM: "check wiring, termination and that baud rate and parity match",
    FailKind.MALFORMED: "check baud rate and parity, or the meter is faulty",
    FailKind.WRONG_ADDRESS: "check the configured address",
}
_WHAT = {
    FailKind.CHECKSUM: "replies are corrupted",
    FailKind.MALFORMED: "replies are unreadable",
    FailKind.WRONG_ADDRESS: "a different meter answers",
}


def failure_reason(failure: Observation, ex: Exchange, timeout: float, attempts: int) -> str:
    """The plain-words reason an operator reads on the staff screen."""
    tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
    advice = _ADVICE.get(failure.kind, "")
    if failure.kind is FailKind.TIMEOUT:
        return f"meter does not answer: {failure.detail} within {timeout:.2f} s to {ex.label}, {tries} ({advice})"
    what = _WHAT.get(failure.kind, failure.kind.value)
    return f"{what}: {failure.detail}, {tries} ({advice})"


def fallback(state: DeviceState, point: PointDef, error: str) -> PointValue:
    """No fresh value: the last good one marked stale, or an error."""
    last = state.last_good.get(point.name)
    if last is None:
        return PointValue(point.name, None, point.unit, Quality.ERROR, point.cumulative, None, error)
    return PointValue(point.name, last.value, point.unit, Quality.STALE, point.cumulative, last.read_mono, error)


@dataclass
class PollTally:
    fresh: dict[str, PointValue] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, object] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # worth a DEGRADED even if values came
    refusals: list[str] = field(default_factory=list)
    silence: str = ""  # the first reason the device gave no usable answer

    def answered(self, ex: Exchange, answer: Answer, failures: tuple[Observation, ...]) -> None:
        now = time.monotonic()
        for p in ex.points:
            if p.name in answer.values:
                self.fresh[p.name] = PointValue(p.name, answer.values[p.name], p.unit, Quality.GOOD,
                                                p.cumulative, now)
            else:
                self.errors[p.name] = answer.point_errors.get(p.name, "missing from the reply")
        self.attributes.update(answer.attributes)
        if failures:
            first = failures[0]
            self.problems.append(f"{ex.label} needed {len(failures) + 1} attempts ({first.kind.value}: "
                                 f"{first.detail})")

    def refused(self, ex: Exchange, refusal: str) -> None:
        self.refusals.append(refusal)
        self.errors.update({p.name: refusal for p in ex.points})

    def failed(self, ex: Exchange, reason: str) -> None:
        self.silence = self.silence or reason
        self.errors.update({p.name: reason for p in ex.points})

    def not_asked(self, rest: list[Exchange], reason: str) -> None:
        for ex in rest:
            self.errors.update({p.name: f"not asked: {reason}" for p in ex.points})

    def settle(self, state: DeviceState, points: list[PointDef]) -> dict[str, PointValue]:
        """Update the device's health and last values; return every point's value for the Reading."""
        state.last_good.update(self.fresh)
        state.attributes.update(self.attributes)
        if self.fresh:
            state.answered("; ".join(self.problems + [f"{name}: {err}" for name, err in self.errors.items()]))
        elif self.refusals and not self.silence:
            state.refused(self.refusals[0])
        else:
            state.silent(time.monotonic(), self.silence or self.refusals[0])
        return {p.name: self.fresh.get(p.name) or fallback(state, p, self.errors.get(p.name, "")) for p in points}
