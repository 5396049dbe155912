"""What the readings of one meter mean: alerts with hysteresis, and the registers billing trusts.

Pure logic: values and times go in, alert changes and accepted register values
come out; the service writes them in the poll cycle's transaction. Time is the
site-local wall time of each reading, so tests drive nights, seasons and days by
hand.

Alert keys and rules (severity; raised / cleared):

``meter.offline:<id>`` (warning)
    raised after ``offline_after_failures`` polls in a row without a single good
    value, with the bus's reason and the meter's transaction counters; cleared by
    the first poll with a good value.
``meter.backwards:<id>`` (warning)
    a cumulative register reads lower than its last accepted value (a BCD
    rollover near the top of the register is counted as consumption, not as
    backwards). Cleared by the next reading consistent with the accepted value
    (the low reading was a misread and is dropped), or when the register has read
    consistently at the lower level ``CONFIRM_READINGS`` times: a reset or
    replaced meter, whose new level is then accepted (the step is not counted
    as consumption). The alert stays visible until acknowledged.
``meter.jump:<id>`` (warning)
    a cumulative register rises more than ``max_jump_per_h`` x hours since the
    last accepted value (+ one minute's worth, for counting resolution). Cleared
    by the next reading plausible against the accepted value (the jump was a
    misread and is dropped), or when the register stays at the new level for
    ``CONFIRM_READINGS`` readings (then accepted and counted as consumption).
``meter.leak:<id>`` (warning, water meters with ``leak_check``)
    the night window (``leak_from``..``leak_to``, site time) is cut into
    ``leak_interval_min`` intervals; if the volume rose (or ``flow_rate`` was above
    zero) in every one of them, it is raised at the first reading after the
    window. Cleared when a whole leak interval passes without flow (any time of
    day), or a night with an interval without flow. A night with missing
    readings gives no verdict.
``comfort.temperature:<id>``, ``comfort.humidity:<id>``, ``comfort.noise:<id>`` (info)
    a good value outside the [comfort] range of the season for ``comfort_readings``
    readings in a row; cleared after as many readings inside the range by a small
    margin (0.3 °C, 1 %RH, 1 dB). Winter and summer by date from [comfort]; between
    the seasons the range spanning both (18-24 °C by default).
``meter.bus_down:<bus-id>`` (warning, raised by the service)
    the bus's serial port cannot be opened or failed; cleared when it works again.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from drivers.meters.points import Binding

from mqtt_bridge.alerts import alert_key
from lobby.config.model import ComfortConfig, MeterConfig

CONFIRM_READINGS = 3
FLOW_EPSILON = 1e-9
COMFORT_MARGIN = {"temperature": 0.3, "humidity": 1.0, "noise": 1.0}

TITLES = {
    "meter.offline": "仪表离线 Meter offline",
    "meter.backwards": "读数倒走 Meter register went backwards",
    "meter.jump": "读数异常跳变 Implausible meter reading jump",
    "meter.leak": "夜间持续用水，疑似漏水 Continuous night flow: possible leak",
    "comfort.temperature": "温度超出舒适范围 Temperature out of comfort range",
    "comfort.humidity": "湿度超出舒适范围 Humidity out of comfort range",
    "comfort.noise": "噪声超标 Noise above the limit",
    "meter.bus_down": "抄表总线不可用 Meter bus unavailable",
}
SEVERITY = {"comfort.temperature": "info", "comfort.humidity": "info", "comfort.noise": "info"}


@dataclass(frozen=True)
class AlertChange:
    key: str
    action: str  # "raise" or "clear"
    severity: str = "warning"
    title: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


class Hysteresis:
    """Raise after `raise_after` bad observations in a row, clear after `clear_after` good ones.

    An observation of None (no verdict: the meter did not answer, a night with gaps)
    changes nothing. Only transitions are reported, so a persisting fault writes nothing.
    """

    __slots__ = ("raise_after", "clear_after", "active", "bad", "good")  # seven per meter

    def __init__(self, raise_after: int = 1, clear_after: int = 1, active: bool = False) -> None:
        self.raise_after = raise_after
        self.clear_after = clear_after
        self.active = active
        self.bad = 0
        self.good = 0

    def observe(self, bad: bool | None) -> str | None:
        if bad is None:
            return None
        if bad:
            self.bad, self.good = self.bad + 1, 0
            if not self.active and self.bad >= self.raise_after:
                self.active = True
                return "raise"
        else:
            self.good, self.bad = self.good + 1, 0
            if self.active and self.good >= self.clear_after:
                self.active = False
                return "clear"
        return None


# --- cumulative registers ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RegisterState:
    value: float  # last accepted register value
    at: dt.datetime  # when it was read (UTC)
    odometer: float  # accepted consumption since first seen


@dataclass(frozen=True)
class RegisterVerdict:
    accepted: bool  # the value became the register's state
    suspicious: str | None = None  # "backwards" or "jump"
    confirmed: bool = False  # a suspicious level held for CONFIRM_READINGS readings and was accepted
    previous: float | None = None
    delta: float = 0.0  # consumption counted by this reading
    rate_per_h: float | None = None


class RegisterTracker:
    def __init__(self, binding: Binding, max_jump_per_h: float | None, state: RegisterState | None) -> None:
        self.binding = binding
        self.max_jump = max_jump_per_h
        self.state = state
        self._pending: list[tuple[float, dt.datetime, str]] = []

    def _allowed(self, hours: float) -> float | None:
        if self.max_jump is None:
            return None
        return self.max_jump * max(hours, 0.0) + self.max_jump / 60.0

    def update(self, value: float, at: dt.datetime) -> RegisterVerdict:
        state = self.state
        if state is None:
            self.state = RegisterState(value, at, 0.0)
            return RegisterVerdict(True)
        base = state.value
        eps = 1e-6 * max(1.0, abs(base))
        hours = (at - state.at).total_seconds() / 3600.0
        delta = value - base
        kind: str | None = None
        modulus = self.binding.rollover
        if delta < -eps:
            if modulus and base > 0.9 * modulus and value < 0.1 * modulus:
                delta = value + modulus - base  # the counter wrapped
            else:
                kind = "backwards"
        allowed = self._allowed(hours)
        if kind is None and allowed is not None and delta > allowed:
            kind = "jump"
        rate = delta / hours if hours > 0 else None
        if kind is None:
            self._pending.clear()
            counted = max(delta, 0.0)
            self.state = RegisterState(value, at, round(state.odometer + counted, 9))
            return RegisterVerdict(True, None, False, base, counted, rate)
        if self._pending and self._pending[-1][2] == kind and self._consistent(self._pending[-1], value, at):
            self._pending.append((value, at, kind))
        else:
            self._pending = [(value, at, kind)]
        if len(self._pending) < CONFIRM_READINGS:
            return RegisterVerdict(False, kind, False, base, 0.0, rate)
        # The register stays at the new level: a reset/replaced meter or a real (if odd) rise.
        first = self._pending[0][0]
        counted = max(value - base, 0.0) if kind == "jump" else max(value - first, 0.0)
        self._pending.clear()
        self.state = RegisterState(value, at, round(state.odometer + counted, 9))
        return RegisterVerdict(True, kind, True, base, counted, rate)

    def _consistent(self, previous: tuple[float, dt.datetime, str], value: float, at: dt.datetime) -> bool:
        last, last_at, _ = previous
        if value < last - 1e-6 * max(1.0, abs(last)):
            return False
        allowed = self._allowed((at - last_at).total_seconds() / 3600.0)
        return allowed is None or value - last <= allowed


# --- night leak --------------------------------------------------------------------------------

class LeakTracker:
    """Flow in every interval of the night window is a leak (跑冒滴漏)."""

    def __init__(self, start: dt.time, end: dt.time, interval_min: float) -> None:
        self.start = start
        minutes = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
        self.duration = dt.timedelta(minutes=minutes if minutes > 0 else minutes + 1440)
        self.interval = dt.timedelta(minutes=interval_min)
        self.count = math.ceil(self.duration / self.interval)
        self.night: dt.datetime | None = None  # start of the window being watched (naive local)
        self.marks: dict[int, float] = {}  # first volume read in each interval
        self.flowing: set[int] = set()  # intervals where flow_rate was above zero
        self.evaluated = False
        self.last_volume: float | None = None
        self.last_flow_at: dt.datetime | None = None

    def _window_start(self, local: dt.datetime) -> dt.datetime:
        start = dt.datetime.combine(local.date(), self.start)
        return start if start <= local else start - dt.timedelta(days=1)

    def observe(self, local: dt.datetime, volume: float | None,
                flow: float | None) -> tuple[bool | None, dict[str, Any]]:
        """local: naive site-local time of the reading. Returns (bad, detail) or (None, {})."""
        if volume is None and flow is None:
            return None, {}
        verdict: bool | None = None
        detail: dict[str, Any] = {}
        night = self._window_start(local)
        offset = local - night
        if offset < self.duration:
            if night != self.night:
                self.night, self.marks, self.flowing, self.evaluated = night, {}, set(), False
            index = int(offset / self.interval)
            if volume is not None:
                self.marks.setdefault(index, volume)
            if flow is not None and flow > FLOW_EPSILON:
                self.flowing.add(index)
        elif night == self.night and not self.evaluated:
            self.evaluated = True
            end = volume if offset < self.duration + self.interval else None
            verdict, detail = self._judge(end)
        quiet = self._quiet(local, volume, flow)
        if verdict is None and quiet:
            verdict = False
        return verdict, detail

    def _judge(self, end: float | None) -> tuple[bool | None, dict[str, Any]]:
        flows: list[bool | None] = []
        for index in range(self.count):
            if index in self.flowing:
                flows.append(True)
                continue
            first = self.marks.get(index)
            after = self.marks.get(index + 1) if index + 1 < self.count else end
            flows.append(None if first is None or after is None else after - first > 1e-9)
        assert self.night is not None
        window_end = self.night + self.duration
        detail = {"night": self.night.date().isoformat(),
                  "window": f"{self.night:%H:%M}-{window_end:%H:%M}",
                  "interval_min": self.interval.total_seconds() / 60,
                  "intervals_with_flow": sum(1 for f in flows if f), "intervals": self.count}
        if self.marks.get(0) is not None and end is not None:
            detail["volume_from"] = self.marks[0]
            detail["volume_to"] = end
            detail["night_use"] = round(end - self.marks[0], 6)
        if all(f is True for f in flows):
            return True, detail
        if any(f is False for f in flows):
            return False, detail
        return None, {}

    def _quiet(self, local: dt.datetime, volume: float | None, flow: float | None) -> bool:
        """True once a whole leak interval has passed without any flow."""
        moved = (volume is not None and self.last_volume is not None and volume - self.last_volume > 1e-9) \
            or (flow is not None and flow > FLOW_EPSILON)
        if volume is not None:
            self.last_volume = volume
        if moved or self.last_flow_at is None:
            self.last_flow_at = local
            return False
        return local - self.last_flow_at >= self.interval


# --- comfort -----------------------------------------------------------------------------------

def _in_span(day: tuple[int, int], start: tuple[int, int], end: tuple[int, int]) -> bool:
    if start <= end:
        return start <= day <= end
    return day >= start or day <= end  # the span runs over the new year


def comfort_limits(point: str, date: dt.date, comfort: ComfortConfig) -> tuple[float, float, str]:
    """(low, high, season) for a comfort point on a site-local date."""
    if point == "humidity":
        return comfort.humidity_min_pct, comfort.humidity_max_pct, "all year"
    if point == "noise":
        return -math.inf, comfort.noise_max_db, "all year"
    day = (date.month, date.day)
    if _in_span(day, comfort.winter_from, comfort.winter_to):
        return comfort.winter_min_c, comfort.winter_max_c, "winter"
    if _in_span(day, comfort.summer_from, comfort.summer_to):
        return comfort.summer_min_c, comfort.summer_max_c, "summer"
    return (min(comfort.winter_min_c, comfort.summer_min_c), max(comfort.winter_max_c, comfort.summer_max_c),
            "between seasons")


# --- one meter ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sample:
    """One canonical value of one reading."""

    value: float | None
    unit: str
    quality: str  # good, stale, error
    age_s: float | None = None


@dataclass
class Analysis:
    changes: list[AlertChange] = field(default_factory=list)
    registers: dict[str, RegisterState] = field(default_factory=dict)  # accepted this reading
    edge: tuple[str, str, RegisterState] | None = None  # (site day, point, state): first of a new day


class MeterAnalyzer:
    def __init__(self, meter: MeterConfig, bindings: list[Binding], billing: str | None, comfort: ComfortConfig,
                 tz: dt.tzinfo, registers: dict[str, RegisterState] | None = None,
                 active: set[str] | frozenset[str] = frozenset(), last_edge_day: str | None = None) -> None:
        self.meter = meter
        self.comfort = comfort
        self.tz = tz
        self.billing = billing
        self.last_edge_day = last_edge_day
        registers = registers or {}
        self.trackers = {b.name: RegisterTracker(b, meter.max_jump_per_h, registers.get(b.name))
                         for b in bindings if b.cumulative}
        self.failed_polls = 0
        self.keys = {kind: alert_key(kind, meter.id) for kind in TITLES if kind != "meter.bus_down"}
        n = meter.comfort_readings
        self.hyst = {
            "meter.offline": Hysteresis(meter.offline_after_failures, 1),
            "meter.backwards": Hysteresis(1, 1),
            "meter.jump": Hysteresis(1, 1),
            "meter.leak": Hysteresis(1, 1),
            "comfort.temperature": Hysteresis(n, n),
            "comfort.humidity": Hysteresis(n, n),
            "comfort.noise": Hysteresis(n, n),
        }
        for kind, hyst in self.hyst.items():
            hyst.active = self.keys[kind] in active
        self.leak = LeakTracker(meter.leak_from, meter.leak_to, meter.leak_interval_min) if meter.leak_check else None

    def _change(self, kind: str, action: str | None, detail: dict[str, Any]) -> AlertChange | None:
        if action is None:
            return None
        base = {"meter_id": self.meter.id, "place": self.meter.place}
        title = f"{TITLES[kind]}: {self.meter.id} ({self.meter.place})"
        return AlertChange(self.keys[kind], action, SEVERITY.get(kind, "warning"), title, {**base, **detail})

    def observe(self, samples: dict[str, Sample], at: dt.datetime, *, reason: str = "",
                counters: dict[str, int] | None = None) -> Analysis:
        """One poll's canonical values, read at `at` (aware UTC)."""
        out = Analysis()
        local = at.astimezone(self.tz)
        good = {name: s.value for name, s in samples.items() if s.quality == "good" and s.value is not None}

        # offline
        self.failed_polls = 0 if good else self.failed_polls + 1
        detail = {"reason": reason or "no good value", "failed_polls": self.failed_polls,
                  "counters": dict(counters or {})}
        self._add(out, self._change("meter.offline", self.hyst["meter.offline"].observe(not good), detail))

        # cumulative registers
        verdicts: dict[str, RegisterVerdict] = {}
        for name, tracker in self.trackers.items():
            if name not in good:
                continue
            verdict = tracker.update(good[name], at)
            verdicts[name] = verdict
            if verdict.accepted and tracker.state is not None:
                out.registers[name] = tracker.state
        for kind, label in (("meter.backwards", "backwards"), ("meter.jump", "jump")):
            # A suspicious level confirmed by CONFIRM_READINGS readings is accepted: that clears the alert.
            flagged = {n: v for n, v in verdicts.items() if v.suspicious == label and not v.confirmed}
            observation = bool(flagged) if verdicts else None
            detail = {}
            if flagged:
                name, v = next(iter(flagged.items()))
                detail = {"point": name, "previous": v.previous, "value": good[name], "unit": samples[name].unit}
                if label == "jump":
                    detail["max_per_h"] = self.meter.max_jump_per_h
                    if v.rate_per_h is not None:
                        detail["rate_per_h"] = round(v.rate_per_h, 3)
            self._add(out, self._change(kind, self.hyst[kind].observe(observation), detail))
        if self.billing in out.registers:
            day = local.date().isoformat()
            if self.last_edge_day is None or day > self.last_edge_day:
                out.edge = (day, self.billing, out.registers[self.billing])
                self.last_edge_day = day

        # night leak
        if self.leak is not None:
            bad, detail = self.leak.observe(local.replace(tzinfo=None), good.get("volume_total"), good.get("flow_rate"))
            self._add(out, self._change("meter.leak", self.hyst["meter.leak"].observe(bad), detail))

        # comfort
        if self.meter.comfort_check:
            for point in ("temperature", "humidity", "noise"):
                if point not in good:
                    continue
                value = good[point]
                low, high, season = comfort_limits(point, local.date(), self.comfort)
                margin = COMFORT_MARGIN[point]
                if value < low or value > high:
                    observation: bool | None = True
                elif low + margin <= value <= high - margin:  # (noise has no lower limit: -inf)
                    observation = False
                else:
                    observation = None  # inside the range but within the margin: no change either way
                detail = {"point": point, "value": value, "unit": samples[point].unit, "season": season,
                          "min": None if math.isinf(low) else low, "max": high}
                kind = f"comfort.{point}"
                self._add(out, self._change(kind, self.hyst[kind].observe(observation), detail))
        return out

    @staticmethod
    def _add(out: Analysis, change: AlertChange | None) -> None:
        if change is not None:
            out.changes.append(change)
