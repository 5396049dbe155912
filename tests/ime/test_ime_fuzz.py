"""Random key sequences (garbage included) never break the text-entry state machine."""

from __future__ import annotations

import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.ime.keyboard import KINDS, TextEntry, build_layout
from kiosk.ime.pinyin import MAX_COMPOSITION

ALL_KEY_IDS = sorted({k.id for name in ("zh", "en", "digits") for kind in KINDS
                      for k in build_layout(name, kind, "en").keys})
BAD = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}

op = st.one_of(
    st.tuples(st.just("press"), st.sampled_from(ALL_KEY_IDS)),
    st.tuples(st.just("press"), st.text(max_size=3)),
    st.tuples(st.just("choose"), st.integers(-2, 12)),
    st.tuples(st.just("next"), st.none()),
    st.tuples(st.just("prev"), st.none()),
    st.tuples(st.just("insert"), st.text(max_size=12)),
    st.tuples(st.just("layout"), st.sampled_from(["zh", "en", "digits", "xx"])),
    st.tuples(st.just("page_size"), st.integers(-1, 9)),
    st.tuples(st.just("finish"), st.none()),
)


def check(e: TextEntry) -> None:
    assert len(e.text) <= e.max_length
    assert not any(unicodedata.category(ch) in BAD for ch in e.text), repr(e.text)
    assert len(e.composition) <= MAX_COMPOSITION
    assert set(e.composition) <= set("abcdefghijklmnopqrstuvwxyz'")
    assert not e.composition.startswith("'")
    assert all(len(c.text) <= e.room for c in e.candidates)
    assert 0 <= e.page < e.page_count
    if e.kind == "phone":
        assert set(e.text) <= set("0123456789+")
    if e.kind == "pin":
        assert set(e.text) <= set("0123456789")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(KINDS)), max_length=st.integers(1, 12), ops=st.lists(op, max_size=60))
def test_random_key_sequences(kind, max_length, ops):
    e = TextEntry(kind=kind, max_length=max_length)
    for name, arg in ops:
        if name == "press":
            e.press(arg)
        elif name == "choose":
            e.choose(arg)
        elif name == "next":
            e.next_page()
        elif name == "prev":
            e.prev_page()
        elif name == "insert":
            e.insert_text(arg)
        elif name == "layout":
            e.set_layout(arg)
        elif name == "page_size":
            e.page_size = arg
        elif name == "finish":
            e.finish()
        check(e)
