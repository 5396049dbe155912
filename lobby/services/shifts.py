"""Shifts and the handover (DOMAIN: 06:00-13:00 and 13:00-22:00 in the source, a 24-hour duty
system required; the incoming person comes handover_early_min (5) minutes early, checks the
equipment and reads the duty log).

`duty(now)` says which shift is on and when the next one's person must arrive for the
handover; the staff screen shows it. The shift list itself is validated in the config to
cover all 24 hours.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mqtt_bridge.clock import Instant

from lobby.services.context import ServiceContext


@dataclass(frozen=True)
class Duty:
    shift: str  # the shift on duty now ("" when none is configured)
    next_shift: str
    next_start: dt.datetime  # site-local
    arrive_by: dt.datetime  # site-local: next_start - handover_early_min

    def text(self) -> tuple[str, str]:
        return (f"当前班次 {self.shift} · 下一班 {self.next_shift} {self.next_start:%H:%M}，请于{self.arrive_by:%H:%M}"
                f"到岗交接", f"On duty: {self.shift} · next: {self.next_shift} at {self.next_start:%H:%M}; "
                f"arrive by {self.arrive_by:%H:%M} for the handover")


def _in(start: dt.time, end: dt.time, at: dt.time) -> bool:
    return start <= at < end if start < end else (at >= start or at < end)


def duty(ctx: ServiceContext, now: Instant) -> Duty | None:
    """The shift on duty and the next handover; None when no shifts are configured."""
    plan = ctx.cfg.shifts
    if not plan.shifts:
        return None
    local = now.local(ctx.tz)
    current = next((s for s in plan.shifts if _in(s.start, s.end, local.time())), plan.shifts[0])
    starts = sorted(((dt.datetime.combine(local.date() + dt.timedelta(days=d), s.start, ctx.tz), s.name)
                     for s in plan.shifts for d in (0, 1)), key=lambda p: p[0])
    next_start, next_name = next(p for p in starts if p[0] > local)
    return Duty(current.name, next_name, next_start, next_start - dt.timedelta(minutes=plan.handover_early_min))
