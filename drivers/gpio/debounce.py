"""The button's press logic as a pure state machine over timestamped edges.

:class:`ButtonLogic` knows nothing of threads or pins: it is fed raw edges
(``edge(pressed, t)``) and the passing of time (``advance(now)``) and returns
what happened. Decisions use the edges' own timestamps, never the time at
which they are processed, so a late-running thread gives the same answer as
a prompt one.

Debouncing is "stable for ``bounce_s``": a level counts only once the contact
has stayed at it for ``bounce_s``. A bouncing contact therefore yields one
press, and a spike shorter than ``bounce_s`` yields none.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class ButtonEventKind(str, enum.Enum):
    PRESS = "press"            # released before the hold time: a short press
    LONG_PRESS = "long_press"  # held for the hold time (fired while still held)
    STUCK = "stuck"            # held past the stuck limit; no events until released
    UNSTUCK = "unstuck"        # a stuck button was released


@dataclass(frozen=True)
class ButtonEvent:
    """One thing a button did.

    ``t_mono`` is the ``time.monotonic()`` at which the press began (for
    ``UNSTUCK``: the release); ``duration_s`` is how long it had been held
    when the event was decided.
    """

    button_id: str
    kind: ButtonEventKind
    t_mono: float
    duration_s: float


class ButtonLogic:
    """Debounce, short/long press and stuck detection for one button."""

    def __init__(self, button_id: str, *, bounce_s: float, hold_s: float, stuck_s: float,
                 pressed: bool = False, now: float = 0.0) -> None:
        if not 0 <= bounce_s < hold_s < stuck_s:
            raise ValueError("need 0 <= bounce_s < hold_s < stuck_s")
        self.button_id = button_id
        self.bounce_s = bounce_s
        self.hold_s = hold_s
        self.stuck_s = stuck_s
        self._raw = pressed           # the contact as last reported
        self._raw_since = now
        self._stable = pressed        # the debounced level
        self._press_t = now if pressed else math.nan
        self._long_sent = False
        self._stuck = False
        # A button already down when we start watching: its press began at an
        # unknown time, so it gives no press events, but it can still be stuck.
        self._silent = pressed

    @property
    def pressed(self) -> bool:
        """The debounced level."""
        return self._stable

    @property
    def stuck(self) -> bool:
        return self._stuck

    @property
    def settling(self) -> bool:
        """True while a raw change waits for ``bounce_s`` of stability."""
        return self._raw != self._stable

    def edge(self, pressed: bool, t: float) -> list[ButtonEvent]:
        """The contact changed to *pressed* at monotonic time *t*."""
        events = self.advance(t)
        if pressed != self._raw:
            self._raw = pressed
            self._raw_since = max(t, self._raw_since)
        return events

    def next_deadline(self) -> float | None:
        """The earliest time at which :meth:`advance` may have something to do."""
        times = [t for t, _ in self._decisions()]
        return min(times) if times else None

    def advance(self, now: float) -> list[ButtonEvent]:
        """Apply every decision due at or before *now*, in time order."""
        events: list[ButtonEvent] = []
        while True:
            due = [(t, action) for t, action in self._decisions() if t <= now]
            if not due:
                return events
            t, action = min(due, key=lambda item: item[0])
            event = action(t)
            if event is not None:
                events.append(event)

    def _decisions(self) -> list[tuple[float, object]]:
        decisions: list[tuple[float, object]] = []
        if self.settling:
            decisions.append((self._raw_since + self.bounce_s, self._settle))
        if self._stable:
            # While a change is settling, the level after _raw_since is unknown:
            # a deadline past that point waits for the change to settle.
            known_until = self._raw_since if self.settling else math.inf
            hold_at = self._press_t + self.hold_s
            stuck_at = self._press_t + self.stuck_s
            if not (self._long_sent or self._stuck or self._silent) and hold_at < known_until:
                decisions.append((hold_at, self._hold))
            if not self._stuck and stuck_at < known_until:
                decisions.append((stuck_at, self._stick))
        return decisions

    def _settle(self, _t: float) -> ButtonEvent | None:
        self._stable = self._raw
        changed_at = self._raw_since
        if self._stable:
            self._press_t = changed_at
            self._long_sent = self._stuck = self._silent = False
            return None
        duration = changed_at - self._press_t
        if self._stuck:
            self._stuck = False
            return ButtonEvent(self.button_id, ButtonEventKind.UNSTUCK, changed_at, duration)
        if self._long_sent or self._silent:
            return None
        return ButtonEvent(self.button_id, ButtonEventKind.PRESS, self._press_t, duration)

    def _hold(self, _t: float) -> ButtonEvent:
        self._long_sent = True
        return ButtonEvent(self.button_id, ButtonEventKind.LONG_PRESS, self._press_t, self.hold_s)

    def _stick(self, _t: float) -> ButtonEvent:
        self._stuck = True
        return ButtonEvent(self.button_id, ButtonEventKind.STUCK, self._press_t, self.stuck_s)
