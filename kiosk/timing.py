"""Times of day for the screen (no Kivy): night dimming windows that may cross midnight."""

from __future__ import annotations

import datetime as dt


def in_window(now: dt.time, start: dt.time, end: dt.time) -> bool:
    """Whether `now` is in [start, end); a window ending before it starts crosses midnight; start == end is off."""
    if start == end:
        return False
    if start < end:
        return start <= now < end
    return now >= start or now < end
