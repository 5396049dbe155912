"""Turning "which tag is in the field right now" into tap and removed events.

A presentation is one tap followed, later, by one removed. A tag that leaves the
field and comes back within `retap_window_s` (a card held at the edge of the
field, or lifted and put back) continues the same presentation: no second tap.
The removed event is therefore sent once the tag has stayed away for the whole
window; its `at_mono` is the moment the tag actually left. A different tag
ends the previous presentation at once.
"""

from __future__ import annotations

from drivers.nfc.base import TagEvent


class TapTracker:
    """Pure bookkeeping, no threads: the reader calls it with its observations."""

    def __init__(self, reader_id: str, retap_window_s: float = 1.5) -> None:
        self.reader_id = reader_id
        self.retap_window_s = retap_window_s
        self._uid: str | None = None
        self._tag_type = "unknown"
        self._left_at: float | None = None

    @property
    def current_uid(self) -> str | None:
        """The UID of the presentation in progress (tag in the field or just left)."""
        return self._uid

    def seen(self, uid: str, tag_type: str, now: float) -> list[TagEvent]:
        """The tag `uid` is in the field."""
        events: list[TagEvent] = []
        if self._uid == uid:
            if self._left_at is None or now - self._left_at < self.retap_window_s:
                self._left_at = None  # still there, or back within the window: same presentation
                return events
            # Away for the whole window, but no empty poll came in between to close the
            # presentation: it is a new tap of the same card (a guard tapping twice).
            events.append(self._removed(self._left_at))
        elif self._uid is not None:
            events.append(self._removed(self._left_at if self._left_at is not None else now))
        self._uid, self._tag_type, self._left_at = uid, tag_type, None
        events.append(TagEvent("tap", uid, tag_type, self.reader_id, now))
        return events

    def absent(self, now: float) -> list[TagEvent]:
        """No tag is in the field (or the reader cannot tell any more)."""
        if self._uid is not None and self._left_at is None:
            self._left_at = now
        return self.expire(now)

    def expire(self, now: float) -> list[TagEvent]:
        """Close the presentation if its tag has been away for the whole window."""
        if self._uid is None or self._left_at is None:
            return []
        if now - self._left_at < self.retap_window_s:
            return []
        return [self._removed(self._left_at)]

    def seconds_until_expiry(self, now: float) -> float | None:
        if self._uid is None or self._left_at is None:
            return None
        return max(0.0, self._left_at + self.retap_window_s - now)

    def _removed(self, at: float) -> TagEvent:
        event = TagEvent("removed", self._uid or "", self._tag_type, self.reader_id, at)
        self._uid, self._tag_type, self._left_at = None, "unknown", None
        return event
