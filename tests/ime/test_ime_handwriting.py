"""Handwriting (手写): the Zinnia recogniser through ctypes, with strokes of real characters.

The strokes are the medians of the 100 commonest surname characters (tests/helpers/strokes.py,
from Make Me a Hanzi via hanzi-writer-data), clean and with a seeded "real hand" jitter.
The accuracy floors are just under what bench/handwriting_bench.py measures
(docs/PERFORMANCE.md); the data and the seeds are fixed, so the figures are exact.
"""

from __future__ import annotations

import logging

import pytest

from kiosk.ime import handwriting
from kiosk.ime.handwriting import SIZE, HandwritingRecognizer, Ink, Unavailable, to_model
from tests.helpers.strokes import jittered, model_strokes, surnames

needs_zinnia = pytest.mark.skipif(not handwriting.available(),
                                  reason="needs libzinnia0 and tegaki-zinnia-simplified-chinese "
                                         "(./dev.sh installs them)")


@pytest.fixture(scope="module")
def rec() -> HandwritingRecognizer:
    if not handwriting.available():
        pytest.skip("needs libzinnia0 and tegaki-zinnia-simplified-chinese (./dev.sh installs them)")
    return HandwritingRecognizer()


@pytest.fixture(scope="module")
def surname_set() -> frozenset[str]:
    from kiosk.ime.pinyin import get_engine

    return frozenset(t for t, _r in get_engine().index.surnames if len(t) == 1)


def accuracy(rec: HandwritingRecognizer, prefer: frozenset[str], seeds: list[int | None]) -> tuple[float, float]:
    top1 = top5 = n = 0
    for ch in surnames():
        for seed in seeds:
            strokes = model_strokes(ch) if seed is None else jittered(model_strokes(ch), seed * 1000 + ord(ch))
            got = [c.text for c in rec.recognize(strokes, n=10, prefer=prefer)]
            n += 1
            top1 += got[:1] == [ch]
            top5 += ch in got[:5]
    return top1 / n, top5 / n


def test_the_fixture_holds_the_100_surnames_with_their_licence() -> None:
    from tests.helpers.strokes import FIXTURE, _data

    assert len(surnames()) == len(set(surnames())) == 100
    assert set(_data()["medians"]) == set(surnames())
    assert "Arphic" in _data()["licence"] and (FIXTURE.parent / "ARPHICPL.TXT").is_file()


@needs_zinnia
def test_li_written_cleanly_is_the_first_candidate(rec: HandwritingRecognizer) -> None:
    got = rec.recognize(model_strokes("李"), n=5)
    assert got[0].text == "李" and len(got) == 5
    assert all(isinstance(c.score, float) for c in got)


@needs_zinnia
def test_clean_medians_top5(rec: HandwritingRecognizer) -> None:
    top1, top5 = accuracy(rec, frozenset(), [None])
    assert top5 >= 0.85 and top1 >= 0.65, (top1, top5)


@needs_zinnia
def test_the_first_character_of_a_name_prefers_surnames(rec: HandwritingRecognizer,
                                                         surname_set: frozenset[str]) -> None:
    plain1, plain5 = accuracy(rec, frozenset(), [None])
    top1, top5 = accuracy(rec, surname_set, [None])
    assert top1 > plain1 and top5 > plain5
    assert top5 >= 0.90, (top1, top5)


@needs_zinnia
def test_jittered_hands_top5(rec: HandwritingRecognizer, surname_set: frozenset[str]) -> None:
    """Scaled, moved, rotated, sheared and shaken, five hands per character."""
    top1, top5 = accuracy(rec, surname_set, [0, 1, 2, 3, 4])
    assert top5 >= 0.85 and top1 >= 0.70, (top1, top5)
    raw1, raw5 = accuracy(rec, frozenset(), [0, 1])
    assert raw5 >= 0.75, (raw1, raw5)


@needs_zinnia
def test_candidates_after_every_stroke(rec: HandwritingRecognizer) -> None:
    strokes = model_strokes("王")
    for i in range(1, len(strokes) + 1):
        assert rec.recognize(strokes[:i], n=6), i
    assert "王" in [c.text for c in rec.recognize(strokes, n=6)]


@needs_zinnia
def test_nothing_written_nothing_offered_and_odd_ink_is_safe(rec: HandwritingRecognizer) -> None:
    assert rec.recognize([]) == [] and rec.recognize([[]]) == []
    assert rec.recognize([[(500, 500)]], n=3)  # a dot
    assert rec.recognize([[(-50, 5000), (1e9, -1e9)]], n=3) is not None  # clamped into the box
    assert rec.recognize(model_strokes("王"), n=0) == []


def test_ink_strokes_undo_clear_and_bounds() -> None:
    ink = Ink()
    assert not ink.extend(1, 1) and not ink.end()
    assert ink.start(10, 10) and not ink.extend(11, 11)  # closer than MIN_STEP: dropped
    assert ink.extend(100, 10) and ink.end()
    assert ink.start(-5, 2000) and ink.strokes[-1][0] == (0.0, float(SIZE))
    ink.end()
    assert len(ink.strokes) == 2 and ink.undo() and len(ink.strokes) == 1
    assert ink.clear() and not ink.strokes and not ink.undo()
    for i in range(handwriting.MAX_STROKES):
        ink.start(i, i)
        ink.end()
    assert not ink.start(1, 1)


def test_pad_coordinates_become_model_coordinates_y_down() -> None:
    assert to_model(0, 0, 400, 400) == (0, SIZE)  # Kivy's bottom-left is the model's bottom-left
    assert to_model(400, 400, 400, 400) == (SIZE, 0)
    x, y = to_model(300, 100, 600, 200)  # a wide pad: the character keeps its shape, centred
    assert x == pytest.approx(500) and y == pytest.approx(500)


def test_missing_model_degrades_politely(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(handwriting.ENV_MODEL, "none")
    handwriting.reset()
    try:
        assert not handwriting.available()
        with pytest.raises(Unavailable):
            HandwritingRecognizer()
        with caplog.at_level(logging.INFO, logger="kiosk.ime.handwriting"):
            assert handwriting.get_recognizer() is None
            assert handwriting.get_recognizer() is None
        said = [r for r in caplog.records if "not offered" in r.getMessage()]
        assert len(said) == 1  # logged once
        assert not handwriting.available()
    finally:
        monkeypatch.delenv(handwriting.ENV_MODEL)
        handwriting.reset()


def test_missing_library_degrades_politely(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handwriting, "LIBRARY_NAMES", ("libzinnia-not-here.so.0",))
    monkeypatch.setattr(handwriting.ctypes.util, "find_library", lambda name: None)
    with pytest.raises(Unavailable):
        handwriting._load_library()
