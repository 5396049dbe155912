"""Handwriting (手写) on the check-in name field: strokes of real characters, replayed as pointer
input (xdotool: press, move along the stroke, release) on the real app's writing pad.

The strokes are the medians of surname characters (tests/helpers/strokes.py), jittered
as a hand would write them. Candidates must appear after every stroke; choosing one
puts it into the name; undo and clear work; 拼音 goes back to the keys. Without the
model the 手写 key is simply not there, and the reason is logged once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from kiosk_driver import Kiosk, seed, write_config
from layout_checks import problems

from kiosk.ime import handwriting
from tests.helpers.strokes import jittered, model_strokes

pytestmark = pytest.mark.skipif(not handwriting.available(),
                                reason="needs libzinnia0 and tegaki-zinnia-simplified-chinese (./dev.sh)")


STEP = 30.0  # model units between reported points (about 9 px on the 800x480 pad)


def cands(m: dict[str, Any]) -> list[str]:
    return [v.get("text", "") for k, v in sorted(m["keys"].items()) if k.startswith("key:cand") and v.get("text")]


def write(k: Kiosk, strokes: list[list[tuple[float, float]]], check_each: bool = True) -> dict[str, Any]:
    """Each stroke as a press, moves along it, a release, on the pad's screen rectangle.

    Kivy keeps only the latest position of a touch per frame, so the moves are paced like a
    finger's (a stroke sent in one burst would arrive as a dot)."""
    pad = k.widget("hw_pad")
    seen_before = k.map().get("seq", 0)
    for i, stroke in enumerate(strokes):
        pts = [(round(pad["x"] + x * pad["w"] / 1000), round(pad["y"] + y * pad["h"] / 1000)) for x, y in stroke]
        k.xdo("mousemove", str(pts[0][0]), str(pts[0][1]))
        k.xdo("mousedown", "1")
        for x, y in pts[1:]:  # at a finger's pace: a few moves per frame, not a whole stroke in one
            k.xdo("sleep", "0.015")
            k.xdo("mousemove", str(x), str(y))
        k.xdo("sleep", "0.015")
        k.xdo("mouseup", "1")
        if check_each:  # candidates after every stroke, not only at the end
            k.wait(lambda m, s=seen_before: m.get("seq", 0) > s and bool(cands(m)), what=f"candidates after stroke {i + 1}")
            seen_before = k.map().get("seq", 0)
            time.sleep(0.05)
    return k.map()


def test_ui_handwriting_on_the_name_field(display: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path / "lobby.toml", tmp_path / "state", 1883)
    seed(config)
    k = Kiosk(display(800, 480), config, tmp_path).start()
    try:
        k.click("checkin")
        k.wait_screen("ci_name")
        k.click("key:handwrite")
        k.wait(lambda m: m["keys"].get("key:_layout", {}).get("text") == "handwriting" and "hw_pad" in m["widgets"],
               what="the writing pad")
        m = k.settled()
        k.screenshot("800x480-zh-handwriting-pad")
        assert not problems(m, 60), problems(m, 60)
        assert {"key:hw_pinyin", "key:hw_undo", "key:hw_clear", "key:backspace", "key:enter"} <= set(m["keys"])

        # 王, written by a slightly shaky hand, stroke by stroke
        m = write(k, jittered(model_strokes("王", STEP), seed=7))
        k.wait(lambda m: "王" in cands(m), what="王 among the candidates")
        k.screenshot("800x480-zh-handwriting-wang")
        k.choose_candidate("王")
        k.wait(lambda m: "王" in m["widgets"]["field"]["text"] and not cands(m), what="王 in the name, pad cleared")

        # a stroke, undone; two strokes, cleared
        write(k, model_strokes("林", STEP)[:1])
        k.click("key:hw_undo")
        k.wait(lambda m: not cands(m), what="no candidates after undo")
        write(k, model_strokes("林", STEP)[:2])
        k.click("key:hw_clear")
        k.wait(lambda m: not cands(m), what="no candidates after clear")

        # the given name: 林, then 完成 Done commits the first candidate when it is 林
        write(k, jittered(model_strokes("林", STEP), seed=3), check_each=False)
        k.wait(lambda m: "林" in cands(m), what="林 among the candidates")
        k.settled(quiet_s=0.5)  # the answer for the last stroke is in: the candidates stay put
        k.choose_candidate("林")
        k.wait(lambda m: "王林" in m["widgets"]["field"]["text"], what="王林 in the name")

        k.click("key:hw_pinyin")
        k.wait(lambda m: m["keys"].get("key:_layout", {}).get("text") == "zh" and "key:q" in m["keys"],
               what="the pinyin keys again")
        assert "hw_pad" not in k.map()["widgets"]
        assert k.alive()
    finally:
        k.stop()
    assert "Traceback" not in k.log_text()


def test_ui_no_handwriting_key_without_the_model(display: Any, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(handwriting.ENV_MODEL, "none")
    config = write_config(tmp_path / "lobby.toml", tmp_path / "state", 1883)
    seed(config)
    k = Kiosk(display(800, 480), config, tmp_path).start()
    try:
        k.click("checkin")
        k.wait_screen("ci_name")
        m = k.wait(lambda m: "key:q" in m["keys"], what="the pinyin keys")
        assert "key:handwrite" not in m["keys"]
        k.type_letters("wang")
        k.choose_candidate("王")
        k.wait(lambda m: "王" in m["widgets"]["field"]["text"], what="pinyin still works")
    finally:
        k.stop()
    log = k.log_text()
    assert log.count("not offered") == 1, [ln for ln in log.splitlines() if "not offered" in ln]
    assert "Traceback" not in log
