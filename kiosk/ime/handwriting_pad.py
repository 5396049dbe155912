"""The handwriting (手写) panel of the on-screen keyboard: a writing pad, its candidates and keys.

    panel = HandwritingPanel(ImeKey, ImeCandidate, font_name=cjk_font_path)
    panel.entry = entry                 # a TextEntry (name field); a chosen character is inserted
    panel.bind(on_pinyin=lambda p: ...) # the 拼音 key: back to the keys

Layout (the same height as the pinyin keyboard with its candidate bar, so nothing jumps):
keys on the left (拼音, 撤销 Undo, 清除 Clear, ⬅ 删除, 完成 Done), a square pad with a
米字格 guide in the middle, the candidates on the right (large, 3 x 3).

Touches on the pad become strokes in the model's space (kiosk.ime.handwriting.Ink: 1000 x
1000, y down, the pad's aspect kept). After every stroke the strokes so far are recognised
on the panel's own thread (latest request only) and the candidates redrawn on the UI
thread; while the first character of a name is written, common surnames are preferred.
Choosing a candidate inserts it into the entry and clears the pad; 完成 Done with a
character pending commits the first candidate (as 完成 commits a pinyin composition).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from kivy.clock import Clock
from kivy.graphics import Color, InstructionGroup, Line, Rectangle
from kivy.properties import NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from kiosk.ime.handwriting import Candidate, Ink, get_recognizer

log = logging.getLogger(__name__)

SLOTS = 9
INK = (0.08, 0.12, 0.30, 1)
GUIDE = (0.84, 0.86, 0.90, 1)


class WritingPad(Widget):
    """The square a visitor writes in. Events: on_stroke (a stroke ended), on_change (ink changed)."""

    tid = StringProperty("hw_pad")
    ink_width = NumericProperty(3.0)
    __events__ = ("on_stroke", "on_change")

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.ink = Ink()
        self._groups: list[InstructionGroup] = []
        self._line: Line | None = None
        self._touch: Any = None
        with self.canvas.before:
            Color(1, 1, 1, 1)
            self._bg = Rectangle()
            Color(*GUIDE)
            self._frame = Line(width=1.2)
            self._cross = Line(width=1, dash_length=6, dash_offset=6)
            self._cross2 = Line(width=1, dash_length=6, dash_offset=6)
        self._ink_group = InstructionGroup()
        self.canvas.add(self._ink_group)
        self.bind(pos=self._redraw, size=self._redraw)

    def on_stroke(self) -> None:
        pass

    def on_change(self) -> None:
        pass

    # -- drawing
    def _redraw(self, *_: Any) -> None:
        x, y, w, h = self.x, self.y, self.width, self.height
        self._bg.pos, self._bg.size = (x, y), (w, h)
        self._frame.rectangle = (x, y, w, h)
        self._cross.points = [x + w / 2, y, x + w / 2, y + h]
        self._cross2.points = [x, y + h / 2, x + w, y + h / 2]
        # strokes are kept in model space: redraw them for the new size
        self._ink_group.clear()
        self._groups = []
        for stroke in self.ink.strokes:
            self._groups.append(self._draw_stroke([self._to_local(p) for p in stroke]))

    def _to_local(self, p: tuple[float, float]) -> tuple[float, float]:
        from kiosk.ime.handwriting import SIZE

        side = max(self.width, self.height, 1.0)
        ox, oy = (side - self.width) / 2, (side - self.height) / 2
        return self.x + p[0] * side / SIZE - ox, self.y + (side - p[1] * side / SIZE) - oy

    def _draw_stroke(self, points: list[tuple[float, float]]) -> InstructionGroup:
        g = InstructionGroup()
        g.add(Color(*INK))
        flat = [c for p in points for c in p]
        if len(flat) == 2:
            flat = flat * 2
        self._line = Line(points=flat, width=self.ink_width, cap="round", joint="round")
        g.add(self._line)
        self._ink_group.add(g)
        return g

    # -- touches
    def on_touch_down(self, touch: Any) -> bool:
        if not self.collide_point(*touch.pos) or self._touch is not None:
            return super().on_touch_down(touch)
        lx, ly = touch.x - self.x, touch.y - self.y
        if not self.ink.start_in_box(lx, ly, self.width, self.height):
            return True
        touch.grab(self)
        self._touch = touch
        self._groups.append(self._draw_stroke([(touch.x, touch.y)]))
        return True

    def on_touch_move(self, touch: Any) -> bool:
        if touch.grab_current is not self:
            return super().on_touch_move(touch)
        if self._line is not None and self.ink.extend_in_box(touch.x - self.x, touch.y - self.y, self.width,
                                                             self.height):
            p = self._to_local(self.ink.strokes[-1][-1])
            pts = list(self._line.points)
            if len(self.ink.strokes[-1]) == 2:
                pts = pts[:2]
            self._line.points = pts + [p[0], p[1]]
        return True

    def on_touch_up(self, touch: Any) -> bool:
        if touch.grab_current is not self:
            return super().on_touch_up(touch)
        touch.ungrab(self)
        self._touch = None
        self._line = None
        if self.ink.end():
            self.dispatch("on_change")
            self.dispatch("on_stroke")
        return True

    # -- keys
    def undo(self) -> bool:
        if not self.ink.undo():
            return False
        if self._groups:
            self._ink_group.remove(self._groups.pop())
        self._touch = None
        self.dispatch("on_change")
        return True

    def clear(self) -> bool:
        had = self.ink.clear()
        self._ink_group.clear()
        self._groups = []
        self._touch = None
        if had:
            self.dispatch("on_change")
        return had


class _Recognition:
    """One background thread that recognises the latest strokes only; results come back on the UI thread."""

    def __init__(self, deliver: Any) -> None:
        self._deliver = deliver
        self._cond = threading.Condition()
        self._job: tuple[int, list[list[tuple[float, float]]], bool] | None = None
        self._thread: threading.Thread | None = None
        self._surnames: frozenset[str] | None = None

    def request(self, seq: int, strokes: list[list[tuple[float, float]]], surname: bool) -> None:
        with self._cond:
            self._job = (seq, strokes, surname)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="handwriting", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _prefer(self) -> frozenset[str]:
        if self._surnames is None:
            try:
                from kiosk.ime.pinyin import get_engine

                self._surnames = frozenset(t for t, _r in get_engine().index.surnames if len(t) == 1)
            except Exception:  # no pinyin data: no preference
                log.exception("surname list for handwriting")
                self._surnames = frozenset()
        return self._surnames

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._job is None:
                    self._cond.wait()
                seq, strokes, surname = self._job
                self._job = None
            rec = get_recognizer()
            cands: list[Candidate] = []
            if rec is not None and strokes:
                try:
                    cands = rec.recognize(strokes, n=SLOTS, prefer=self._prefer() if surname else ())
                except Exception:  # a recogniser fault must not end the thread
                    log.exception("handwriting recognition")
            Clock.schedule_once(lambda dt, s=seq, c=cands: self._deliver(s, c), 0)


class HandwritingPanel(BoxLayout):
    """Keys | pad | candidates. `entry` is the TextEntry written into. Event: on_pinyin."""

    entry = ObjectProperty(None, allownone=True)
    font_name = StringProperty("Roboto")
    key_height = NumericProperty(60)
    __events__ = ("on_pinyin",)

    def __init__(self, key_cls: Any, candidate_cls: Any, **kw: Any) -> None:
        # the keyboard's own key and candidate buttons (kiosk.ime.widgets passes them: no import circle)
        ImeKey, ImeCandidate = key_cls, candidate_cls
        super().__init__(orientation="horizontal", spacing=4, **kw)
        self.candidates: list[Candidate] = []
        self._seq = 0
        self._recognition = _Recognition(self._show)
        keys = GridLayout(cols=1, spacing=2, size_hint_x=None)
        self.keys: dict[str, Any] = {}
        for kid, label in (("hw_pinyin", "拼音\nPinyin"), ("hw_undo", "撤销\nUndo"), ("hw_clear", "清除\nClear"),
                           ("backspace", "⬅ 删除"), ("enter", "完成\nDone")):
            b = ImeKey(text=label, function=True, font_name=self.font_name)
            b.bind(on_release=lambda btn, k=kid: self._key(k))
            self.keys[kid] = b
            keys.add_widget(b)
        self._key_column = keys
        self.pad = WritingPad()
        self.pad.bind(on_stroke=self._stroke, on_change=self._ink_changed)
        self._pad_box = BoxLayout()  # keeps the pad square and centred in its share
        self._pad_box.add_widget(Widget())
        self._pad_box.add_widget(self.pad)
        self._pad_box.add_widget(Widget())
        grid = GridLayout(cols=3, spacing=2)
        self.buttons: list[Any] = []
        for i in range(SLOTS):
            b = ImeCandidate(index=i, disabled=True, font_name=self.font_name)
            b.bind(on_release=lambda btn: self.choose(int(btn.index)))
            self.buttons.append(b)
            grid.add_widget(b)
        self._grid = grid
        self.add_widget(keys)
        self.add_widget(self._pad_box)
        self.add_widget(grid)
        self.bind(size=self._layout, key_height=self._layout, font_name=self._font)
        self._layout()

    def on_pinyin(self) -> None:
        pass

    # -- geometry
    def _font(self, *_: Any) -> None:
        for b in [*self.keys.values(), *self.buttons]:
            b.font_name = self.font_name

    def _layout(self, *_: Any) -> None:
        kh = self.key_height
        self._key_column.width = max(kh * 1.6, self.width * 0.16)
        side = max(1.0, min(self.height, self.width * 0.42))
        self.pad.size_hint = (None, None)
        self.pad.size = (side, side)
        self._pad_box.size_hint_x = None
        self._pad_box.width = side
        for b in self.keys.values():
            b.font_size = kh * 0.26
        slot_h = (self.height - 4) / 3
        for b in self.buttons:
            b.font_size = min(slot_h * 0.62, kh * 0.9)

    # -- strokes and candidates
    def _surname_context(self) -> bool:
        e = self.entry
        return e is not None and e.kind == "name" and e.context == "surname"

    def _stroke(self, _pad: Any) -> None:
        self._seq += 1
        strokes = [list(s) for s in self.pad.ink.strokes]
        self._recognition.request(self._seq, strokes, self._surname_context())

    def _ink_changed(self, _pad: Any) -> None:
        if not self.pad.ink.strokes:
            self._seq += 1  # a late answer for erased ink is ignored
            self._set([])

    def _show(self, seq: int, cands: list[Candidate]) -> None:
        if seq != self._seq:
            return  # the ink changed since: a newer answer is coming
        self._set(cands if self.pad.ink.strokes else [])

    def _set(self, cands: list[Candidate]) -> None:
        self.candidates = list(cands)
        for i, b in enumerate(self.buttons):
            text = cands[i].text if i < len(cands) else ""
            if b.text != text:
                b.text = text
            b.disabled = not text
            if b.disabled and b.state == "down":
                b.state = "normal"

    def candidate_texts(self) -> list[str]:
        return [c.text for c in self.candidates]

    def choose(self, index: int) -> bool:
        if not 0 <= index < len(self.candidates) or self.entry is None:
            return False
        ok = self.entry.insert_text(self.candidates[index].text)
        if ok:
            self.reset()
        return ok

    def reset(self) -> None:
        self._seq += 1
        self.pad.clear()
        self._set([])

    def _key(self, kid: str) -> None:
        if kid == "hw_pinyin":
            self.reset()
            self.dispatch("on_pinyin")
        elif kid == "hw_undo":
            if self.pad.undo() and self.pad.ink.strokes:
                self._stroke(self.pad)
        elif kid == "hw_clear":
            self.reset()
        elif kid == "backspace":
            if self.entry is not None:
                self.entry.backspace()
        elif kid == "enter":
            if self.candidates and self.pad.ink.strokes:
                self.choose(0)
            elif self.entry is not None:
                self.entry.enter()

    def key_centres(self) -> dict[str, tuple[float, float]]:
        out = {kid: b.to_window(*b.center) for kid, b in self.keys.items()}
        for b in self.buttons:
            out[f"cand{int(b.index)}"] = b.to_window(*b.center)
        return out
