"""The candidate bar's pages: which of the IME's candidates are on screen, and turning pages.

Part of `TextEntry` (kiosk/ime/keyboard.py), kept apart because paging is its own small
state (the list, the page, the page size) with no knowledge of layouts or composition.
"""

from __future__ import annotations

from kiosk.ime.pinyin import Candidate


class CandidatePages:
    """Candidates shown `page_size` at a time. The host class provides `_changed()` and
    `choose_global(index)` and sets `candidates` (resetting `page`) when they change."""

    candidates: list[Candidate]
    page: int
    _page_size: int

    def _changed(self) -> bool:
        raise NotImplementedError

    def choose_global(self, index: int) -> bool:
        raise NotImplementedError

    @property
    def page_size(self) -> int:
        return self._page_size

    @page_size.setter
    def page_size(self, n: int) -> None:
        n = max(1, int(n))
        if n != self._page_size:
            self._page_size = n
            self.page = 0
            self._changed()

    @property
    def page_count(self) -> int:
        return max(1, -(-len(self.candidates) // self._page_size))

    @property
    def page_candidates(self) -> list[Candidate]:
        start = self.page * self._page_size
        return self.candidates[start:start + self._page_size]

    @property
    def has_prev_page(self) -> bool:
        return self.page > 0

    @property
    def has_next_page(self) -> bool:
        return self.page + 1 < self.page_count

    def choose(self, index: int) -> bool:
        """Commit candidate `index` of the current page."""
        if not isinstance(index, int) or not 0 <= index < len(self.page_candidates):
            return False
        return self.choose_global(self.page * self._page_size + index)

    def next_page(self) -> bool:
        if not self.has_next_page:
            return False
        self.page += 1
        return self._changed()

    def prev_page(self) -> bool:
        if not self.has_prev_page:
            return False
        self.page -= 1
        return self._changed()
