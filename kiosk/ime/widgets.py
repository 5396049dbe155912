"""Kivy widgets for the on-screen keyboard: they render a `TextEntry` and forward touches.

    from kiosk.ime.keyboard import TextEntry
    from kiosk.ime.widgets import ImeKeyboard, EntryDisplay

    entry = TextEntry(kind="name", max_length=cfg.max_name)   # one per form field
    kb = ImeKeyboard(entry=entry)                  # candidate bar + keys; font defaults to Noto CJK SC
    field = EntryDisplay(entry=entry)              # shows committed text + the composition
    kb.bind(on_text=lambda kb, text: ..., on_submit=lambda kb, text: ...)
    kb.entry = other_field_entry                   # focus moves: the same keyboard follows

Sizes: keys are `key_height` tall (default max(60 px, window height / 8): 15 mm on a 7"
800×480 panel, growing with the window); `ImeKeyboard.height` follows (candidate bar + 4
rows), so put it in a layout with size_hint_y=None. Widgets are created once per layout
and reused; a keystroke only changes label text and colours (no texture churn).
"""

from __future__ import annotations

from pathlib import Path

from kivy.clock import Clock
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.widget import Widget
from kivy.utils import escape_markup

from kiosk.ime.fonts import DEFAULT_FONT, cjk_font
from kiosk.ime.keyboard import BACKSPACE, CHAR, HANDWRITE, LETTER, SHIFT, SPACER, Key, Layout, TextEntry

MIN_KEY_PX = 60          # 15 mm on a 7" 800×480 panel
KEY_HEIGHT_FRACTION = 1 / 8
REPEAT_DELAY_S = 0.5     # holding backspace repeats after this...
REPEAT_INTERVAL_S = 0.08  # ...at this rate

_KV = Path(__file__).with_name("ime.kv")
if str(_KV) not in Builder.files:
    Builder.load_file(str(_KV))


def default_key_height() -> int:
    return max(MIN_KEY_PX, int(Window.height * KEY_HEIGHT_FRACTION))


class ImeKey(Button):
    """One key; `key` is the layout's Key; `function` keys are shaded, `active` ones lit."""

    key = ObjectProperty(None, allownone=True)
    function = BooleanProperty(False)
    active = BooleanProperty(False)


class ImeCandidate(Button):
    index = NumericProperty(0)


class CandidateBar(BoxLayout):
    """The composition (as syllables) and one page of candidates, with ‹ › paging keys.

    Holds `slots` candidate buttons created once; their text is updated in place.
    """

    entry = ObjectProperty(None, allownone=True)
    font_name = StringProperty(DEFAULT_FONT)
    slots = NumericProperty(6)

    def __init__(self, **kw):
        super().__init__(orientation="horizontal", **kw)
        self._preedit = Label(size_hint_x=None, width=150, color=(0.35, 0.36, 0.40, 1),
                              halign="left", valign="middle", shorten=True, shorten_from="left")
        self._preedit.bind(size=lambda w, s: setattr(w, "text_size", s))
        self._prev = ImeKey(text="‹", size_hint_x=None, disabled=True, function=True)
        self._next = ImeKey(text="›", size_hint_x=None, disabled=True, function=True)
        self._prev.bind(on_press=lambda *_: self.entry and self.entry.prev_page())
        self._next.bind(on_press=lambda *_: self.entry and self.entry.next_page())
        self._buttons: list[ImeCandidate] = []
        self.add_widget(self._preedit)
        for i in range(int(self.slots)):
            b = ImeCandidate(index=i, disabled=True)
            b.bind(on_press=self._choose)
            self._buttons.append(b)
            self.add_widget(b)
        self.add_widget(self._prev)
        self.add_widget(self._next)
        self.bind(font_name=self._apply_font, height=self._resize, width=self._resize)
        self._apply_font()

    @property
    def buttons(self) -> list[ImeCandidate]:
        return list(self._buttons)

    @property
    def paging_buttons(self) -> tuple[Button, Button]:
        return self._prev, self._next

    def _apply_font(self, *_):
        for w in [self._preedit, self._prev, self._next, *self._buttons]:
            w.font_name = self.font_name

    def _resize(self, *_):
        h = self.height
        self._prev.width = self._next.width = h
        self._preedit.width = max(h * 2, self.width * 0.18)
        self._preedit.font_size = h * 0.32
        self._prev.font_size = self._next.font_size = h * 0.5
        self.refresh()

    def _choose(self, button: ImeCandidate):
        if self.entry is not None:
            self.entry.choose(int(button.index))

    def refresh(self, *_):
        entry = self.entry
        cands = entry.page_candidates if entry is not None else []
        base = self.height * 0.45
        slot_w = max(1.0, self._buttons[0].width) if self._buttons else 1.0
        for i, b in enumerate(self._buttons):
            text = cands[i].text if i < len(cands) else ""
            if b.text != text:
                b.text = text
            # long words shrink to fit the slot instead of being cut; whole pixels, because the
            # text provider opens the font once per distinct size (and renders at int(size) anyway)
            b.font_size = int(min(base, slot_w * 0.85 / max(1, len(text)))) if text else int(base)
            b.disabled = not text
            if b.disabled and b.state == "down":
                b.state = "normal"  # it was the one just chosen
        self._preedit.text = entry.preedit if entry is not None else ""
        self._prev.disabled = not (entry is not None and entry.has_prev_page)
        self._next.disabled = not (entry is not None and entry.has_next_page)
        for b in (self._prev, self._next):
            if b.disabled and b.state == "down":
                b.state = "normal"
        self._prev.opacity = self._next.opacity = 1 if entry is not None and entry.candidates else 0


def _handwriting() -> bool:
    from kiosk.ime import handwriting

    return handwriting.available()


class _KeyGrid(BoxLayout):
    """The rows of one layout; built once, reused whenever that layout is shown."""

    def __init__(self, layout: Layout, press, release, font_name: str, **kw):
        super().__init__(orientation="vertical", **kw)
        self.layout = layout
        self.keys: dict[str, ImeKey] = {}
        narrow = layout.units < 10
        for row in layout.rows:
            line = BoxLayout(orientation="horizontal", spacing=2,
                             size_hint_x=0.6 if narrow else 1, pos_hint={"center_x": 0.5})
            for k in row:
                if k.action == SPACER or (k.action == HANDWRITE and not _handwriting()):
                    line.add_widget(Widget(size_hint_x=k.width / layout.units))
                    continue
                b = ImeKey(text=k.label, key=k, font_name=font_name, size_hint_x=k.width / layout.units,
                           function=k.action not in (LETTER, CHAR) or k.id == "plus")
                b.bind(on_press=press, on_release=release)
                self.keys[k.id] = b
                line.add_widget(b)
            self.add_widget(line)

    def set_font(self, font_name: str) -> None:
        for b in self.keys.values():
            b.font_name = font_name

    def update(self, entry: TextEntry, key_height: float) -> None:
        upper = entry.upper
        for b in self.keys.values():
            k: Key = b.key
            if k.action == LETTER:
                label = k.value.upper() if self.layout.name == "en" and upper else k.value
                if b.text != label:
                    b.text = label
                b.font_size = key_height * 0.45
            elif k.action == SHIFT:
                b.font_size = key_height * 0.45
                b.active = upper
                b.bold = entry.caps
            else:
                b.font_size = key_height * (0.45 if len(k.label) <= 2 else 0.26)


class ImeKeyboard(BoxLayout):
    """Candidate bar + keys of the current layout of `entry`.

    Properties: entry (TextEntry; may be swapped when focus moves; its page_size is set
    to the bar's slots), font_name (a CJK font; a .ttc collection is reduced to its
    Simplified Chinese face), key_height (px; 0 = automatic), show_candidates (the bar
    shows on the Chinese layout only). Constructor only: candidate_slots (default 6).
    Events: on_text(text) whenever the committed text changes; on_submit(text) when the
    visitor presses 完成 Done with nothing left in the composition.
    """

    entry = ObjectProperty(None, allownone=True)
    font_name = StringProperty(DEFAULT_FONT)
    key_height = NumericProperty(0)
    show_candidates = BooleanProperty(True)
    handwriting = BooleanProperty(False)  # the 手写 pad instead of the keys (name fields, when offered)
    __events__ = ("on_text", "on_submit")

    def __init__(self, **kw):
        font = kw.pop("font_name", DEFAULT_FONT)
        slots = int(kw.pop("candidate_slots", 6))
        super().__init__(orientation="vertical", size_hint_y=None, **kw)
        self.font_name = cjk_font(font)
        self._grids: dict[Layout, _KeyGrid] = {}
        self._shown: _KeyGrid | None = None
        self._bound: TextEntry | None = None
        self._last_text: str | None = None
        self._repeat = None
        self._pad = None  # kiosk.ime.handwriting_pad.HandwritingPanel, built on first use
        self.candidate_bar = CandidateBar(font_name=self.font_name, size_hint_y=None, slots=slots)
        self.add_widget(self.candidate_bar)
        self._holder = BoxLayout(orientation="vertical")
        self.add_widget(self._holder)
        self.bind(entry=self._on_entry, key_height=self._on_size, font_name=self._on_font,
                  handwriting=lambda *_: self._render())
        Window.bind(size=self._on_size)
        self._on_size()
        if self.entry is not None:
            self._on_entry(self, self.entry)

    # -- events
    def on_text(self, text: str) -> None:
        pass

    def on_submit(self, text: str) -> None:
        pass

    # -- geometry
    @property
    def effective_key_height(self) -> float:
        return self.key_height or default_key_height()

    def _on_size(self, *_):
        kh = self.effective_key_height
        self.candidate_bar.height = kh
        if self._pad is not None and self._pad.parent is not None:
            self._pad.key_height = kh
            self.height = kh * 5  # as the Chinese layout with its candidate bar: nothing jumps
            return
        rows = len(self._shown.layout.rows) if self._shown else 4
        self.height = kh * (rows + (1 if self.candidate_bar.parent else 0))
        if self.entry is not None and self._shown is not None:
            self._shown.update(self.entry, kh)

    def _on_font(self, *_):
        font = cjk_font(self.font_name)
        if font != self.font_name:
            self.font_name = font
            return
        self.candidate_bar.font_name = font
        for g in self._grids.values():
            g.set_font(font)
        if self._pad is not None:
            self._pad.font_name = font

    # -- entry binding
    def _on_entry(self, _w, entry: TextEntry | None):
        if self._bound is not None:
            self._bound.unbind(on_change=self._changed, on_submit=self._submitted)
        self._bound = entry
        self.candidate_bar.entry = entry
        if self._pad is not None:
            self._pad.reset()
            self._pad.entry = entry
        if entry is None or entry.kind != "name":
            self.handwriting = False
        if entry is not None:
            entry.bind(on_change=self._changed, on_submit=self._submitted)
            self._last_text = entry.text
            entry.page_size = len(self.candidate_bar.buttons)  # one page fills the bar
        self._render()

    def _changed(self, entry: TextEntry) -> None:
        self._render()
        if entry.text != self._last_text:
            self._last_text = entry.text
            self.dispatch("on_text", entry.text)

    def _submitted(self, entry: TextEntry) -> None:
        self.dispatch("on_submit", entry.text)

    def _render(self):
        entry = self.entry
        if entry is None:
            return
        layout = entry.layout
        if self.handwriting and layout.name == "zh" and self._show_pad():
            return
        grid = self._grids.get(layout)
        if grid is None:
            grid = _KeyGrid(layout, self._key_down, self._key_up, self.font_name)
            self._grids[layout] = grid
        if grid is not self._shown or grid.parent is None:
            self._holder.clear_widgets()
            self._holder.add_widget(grid)
            self._shown = grid
        want_bar = self.show_candidates and layout.name == "zh"
        if want_bar and self.candidate_bar.parent is None:
            self.add_widget(self.candidate_bar, index=len(self.children))
        elif not want_bar and self.candidate_bar.parent is not None:
            self.remove_widget(self.candidate_bar)
        self._on_size()
        self.candidate_bar.refresh()

    def _show_pad(self) -> bool:
        """The writing pad in place of the keys (built once); False when handwriting is not offered."""
        if self._pad is None:
            if not _handwriting():
                self.handwriting = False
                return False
            from kiosk.ime.handwriting_pad import HandwritingPanel

            self._pad = HandwritingPanel(ImeKey, ImeCandidate, font_name=self.font_name,
                                         key_height=self.effective_key_height)
            self._pad.bind(on_pinyin=lambda *_: setattr(self, "handwriting", False))
        self._pad.entry = self.entry
        if self._pad.parent is None:
            self._holder.clear_widgets()
            self._holder.add_widget(self._pad)
        if self.candidate_bar.parent is not None:
            self.remove_widget(self.candidate_bar)
        self._on_size()
        return True

    def candidate_texts(self) -> list[str]:
        """The candidates on show (the pad's while writing by hand), for tests and the demo."""
        if self._pad is not None and self._pad.parent is not None:
            return self._pad.candidate_texts()
        return [c.text for c in self.entry.page_candidates] if self.entry is not None else []

    # -- touches
    def _key_down(self, button: ImeKey):
        if self.entry is None or button.key is None:
            return
        if button.key.action == HANDWRITE:
            self.handwriting = True
            return
        self.entry.press_key(button.key)
        if button.key.action == BACKSPACE:
            self._cancel_repeat()
            self._repeat = Clock.schedule_once(lambda dt: self._start_repeat(button), REPEAT_DELAY_S)

    def _start_repeat(self, button: ImeKey):
        if button.state == "down":
            self._repeat = Clock.schedule_interval(lambda dt: self._repeat_step(button), REPEAT_INTERVAL_S)

    def _repeat_step(self, button: ImeKey):
        if button.state != "down" or self.entry is None or not self.entry.backspace():
            self._cancel_repeat()
            return False
        return True

    def _key_up(self, button: ImeKey):
        if button.key is not None and button.key.action == BACKSPACE:
            self._cancel_repeat()

    def _cancel_repeat(self):
        if self._repeat is not None:
            self._repeat.cancel()
            self._repeat = None

    # -- for tests and the demo
    def key_centres(self) -> dict[str, tuple[float, float]]:
        """Window coordinates (Kivy: origin bottom-left) of every visible key and candidate.

        Keys by id; candidates as "cand0".."candN"; paging as "prev"/"next".
        """
        out: dict[str, tuple[float, float]] = {}
        if self._pad is not None and self._pad.parent is not None:
            return self._pad.key_centres()
        if self._shown is not None:
            for kid, b in self._shown.keys.items():
                out[kid] = b.to_window(*b.center)
        if self.candidate_bar.parent is not None:
            for b in self.candidate_bar.buttons:
                out[f"cand{int(b.index)}"] = b.to_window(*b.center)
            prev, nxt = self.candidate_bar.paging_buttons
            out["prev"] = prev.to_window(*prev.center)
            out["next"] = nxt.to_window(*nxt.center)
        return out


class EntryDisplay(Label):
    """Read-only view of a TextEntry: committed text, then the composition underlined."""

    entry = ObjectProperty(None, allownone=True)
    placeholder = StringProperty("")

    def __init__(self, **kw):
        font = kw.pop("font_name", DEFAULT_FONT)
        super().__init__(**kw)
        self.font_name = cjk_font(font)
        self._bound: TextEntry | None = None
        self.bind(entry=self._on_entry, width=lambda *_: self._update(self.entry),
                  placeholder=lambda *_: self._update(self.entry))
        if self.entry is not None:
            self._on_entry(self, self.entry)

    def _on_entry(self, _w, entry):
        if self._bound is not None:
            self._bound.unbind(on_change=self._update)
        self._bound = entry
        if entry is not None:
            entry.bind(on_change=self._update)
        self._update(entry)

    def _placeholder_size(self) -> float:
        """The hint whole in a narrow field (portrait): smaller than the text typed, never cut. Estimated
        from the characters (a CJK glyph is an em wide, a Latin one about half)."""
        ems = sum(1.0 if ord(c) > 0x2E7F else 0.56 for c in self.placeholder) or 1.0
        room = max(1.0, self.width * 0.9)
        return max(14.0, min(float(self.font_size), room / ems))

    def _update(self, entry: TextEntry | None) -> None:
        if entry is None:
            self.text = ""
            return
        if not entry.text and not entry.composition:
            size = int(self._placeholder_size())
            self.text = f"[size={size}][color=8a8f99]{escape_markup(self.placeholder)}[/color][/size]"
            return
        text = escape_markup(entry.text)
        if entry.composition:
            text += f"[u][color=2b5fb3]{escape_markup(entry.composition)}[/color][/u]"
        self.text = text + "[color=2b5fb3]|[/color]"
