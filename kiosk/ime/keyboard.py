"""On-screen keyboard layouts and the text-entry state machine (plain Python, no Kivy).

The UI only renders a `TextEntry` and forwards key presses to it:

    entry = TextEntry(kind="name", max_length=40)     # layouts 中文 + EN, starts in 中文
    entry.bind(on_change=redraw, on_submit=next_field)
    for k in "zhangwei": entry.press(k)               # composition "zhangwei"
    entry.page_candidates[0].text                     # '张伟'
    entry.choose(2)                                   # pick 张 (index on the page); "wei" stays
    entry.press("space")                              # commits the first candidate: 伟
    entry.text                                        # '张伟'

Field kinds (what the field holds → layouts offered, first one shown):
    name   → zh, en           (Chinese layout has "·" for minority names)
    text   → zh, en, digits   (company names, descriptions: "，" "。" keys)
    code   → en, digits       (permit numbers)
    phone  → digits           (0-9, +)
    pin    → pin              (0-9 only: the staff PIN)

The Chinese layout of a name field has a 手写 key (HANDWRITE): the keyboard widget swaps
the keys for a writing pad (kiosk/ime/handwriting_pad.py) when the recogniser is there,
and draws an empty cell otherwise; the entry itself ignores the key.

Guarantees, whatever is pressed in whatever order: `text` never exceeds `max_length`
code points and never holds a control, format, private-use or unassigned character;
the composition is at most MAX_COMPOSITION letters of a-z and "'".
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.ime.paging import CandidatePages
from kiosk.ime.pinyin import MAX_COMPOSITION, Candidate, PinyinEngine, get_engine

# Key actions
LETTER = "letter"        # a-z: feeds the composition (zh) or is typed (en)
CHAR = "char"            # types its value (digits, punctuation)
SPACE = "space"          # zh with composition: commit the first candidate; else a space
SEPARATOR = "separator"  # "'" : syllable separator in zh, an apostrophe in en
BACKSPACE = "backspace"  # composition first, then the committed text
CLEAR = "clear"          # empties the field
TOGGLE = "toggle"        # next layout of the field (中 / EN / 123)
ENTER = "enter"          # zh with composition: commit the letters as typed; else submit
SHIFT = "shift"          # en: next letter upper case; twice: caps lock
SPACER = "spacer"        # an empty cell (keeps the grid)
HANDWRITE = "handwrite"  # 手写: the widget shows the writing pad instead of the keys

KINDS = {
    "name": ("zh", "en"),
    "text": ("zh", "en", "digits"),
    "code": ("en", "digits"),
    "phone": ("digits",),
    "pin": ("pin",),
}
LAYOUT_TITLES = {"zh": "中", "en": "EN", "digits": "123", "pin": "123"}
_REJECT_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


@dataclass(frozen=True)
class Key:
    """One key. `id` is unique within its layout and is what `TextEntry.press` takes."""

    id: str
    label: str
    action: str
    value: str = ""
    width: float = 1.0  # in key units; a full row is 10 units (4 on the digit pad)


@dataclass(frozen=True)
class Layout:
    name: str                            # "zh", "en", "digits"
    rows: tuple[tuple[Key, ...], ...]
    units: float                         # width of the widest row, in key units

    def key(self, key_id: str) -> Key | None:
        for row in self.rows:
            for k in row:
                if k.id == key_id:
                    return k
        return None

    @property
    def keys(self) -> list[Key]:
        return [k for row in self.rows for k in row]


def _letters(chars: str, upper: bool) -> tuple[Key, ...]:
    return tuple(Key(c, c.upper() if upper else c, LETTER, c) for c in chars)


def build_layout(name: str, kind: str = "text", toggle_to: str | None = None) -> Layout:
    """The key rows of one layout for one field kind; `toggle_to` labels the toggle key."""
    bksp = Key("backspace", "⬅ 删除", BACKSPACE, width=1.5)
    enter = Key("enter", "完成\nDone", ENTER, width=1.5)
    toggle = Key("toggle", LAYOUT_TITLES[toggle_to], TOGGLE, width=1.5) if toggle_to else \
        Key("spacer-toggle", "", SPACER, width=1.5)
    if name == "pin":  # digits and nothing else: a PIN has no "+"
        rows = (
            (Key("1", "1", CHAR, "1"), Key("2", "2", CHAR, "2"), Key("3", "3", CHAR, "3"),
             Key("backspace", "⬅ 删除", BACKSPACE)),
            (Key("4", "4", CHAR, "4"), Key("5", "5", CHAR, "5"), Key("6", "6", CHAR, "6"),
             Key("clear", "清除\nClear", CLEAR)),
            (Key("7", "7", CHAR, "7"), Key("8", "8", CHAR, "8"), Key("9", "9", CHAR, "9"),
             Key("spacer-toggle", "", SPACER)),
            (Key("spacer-left", "", SPACER), Key("0", "0", CHAR, "0", width=2.0), Key("enter", "完成\nDone", ENTER)),
        )
        return Layout(name, rows, 4.0)
    if name == "digits":
        toggle4 = Key("toggle", LAYOUT_TITLES[toggle_to], TOGGLE) if toggle_to else Key("spacer-toggle", "", SPACER)
        rows = (
            (Key("1", "1", CHAR, "1"), Key("2", "2", CHAR, "2"), Key("3", "3", CHAR, "3"),
             Key("backspace", "⬅ 删除", BACKSPACE)),
            (Key("4", "4", CHAR, "4"), Key("5", "5", CHAR, "5"), Key("6", "6", CHAR, "6"),
             Key("clear", "清除\nClear", CLEAR)),
            (Key("7", "7", CHAR, "7"), Key("8", "8", CHAR, "8"), Key("9", "9", CHAR, "9"), toggle4),
            (Key("plus", "+", CHAR, "+"), Key("0", "0", CHAR, "0", width=2.0), Key("enter", "完成\nDone", ENTER)),
        )
        return Layout(name, rows, 4.0)
    if name == "en":
        rows = (
            _letters("qwertyuiop", True),
            _letters("asdfghjkl", True) + (Key("apostrophe", "'", SEPARATOR, "'"),),
            (Key("shift", "⇧", SHIFT, width=1.5),) + _letters("zxcvbnm", True) + (bksp,),
            (toggle, Key("hyphen", "-", CHAR, "-"), Key("dot", ".", CHAR, "."),
             Key("space", "空格 Space", SPACE, width=5.0), enter),
        )
        return Layout(name, rows, 10.0)
    if name == "zh":
        punct: tuple[Key, ...]
        if kind == "name":
            punct = (Key("middot", "·", CHAR, "·"),)
        else:
            punct = (Key("comma", "，", CHAR, "，"), Key("period", "。", CHAR, "。"))
        space_w = 7.0 - len(punct)
        rows = (
            _letters("qwertyuiop", False),
            _letters("asdfghjkl", False) + (Key("apostrophe", "'", SEPARATOR, "'"),),
            (Key("handwrite", "手写", HANDWRITE, width=1.5) if kind == "name" else
             Key("spacer-left", "", SPACER, width=1.5),) + _letters("zxcvbnm", False) + (bksp,),
            (toggle,) + punct + (Key("space", "空格 Space", SPACE, width=space_w), enter),
        )
        return Layout(name, rows, 10.0)
    raise ValueError(f"unknown layout {name!r}")


def _acceptable(ch: str) -> bool:
    return unicodedata.category(ch) not in _REJECT_CATEGORIES


Listener = Callable[["TextEntry"], None]


class TextEntry(CandidatePages):
    """What one field holds while the visitor types: committed text + pinyin composition.

    kind: "name", "text", "code" or "phone" (chooses layouts, candidate ranking and
    auto-capitals); max_length: the field's limit from the config (code points);
    layouts: override the layout names offered; layout: the one shown first;
    page_size: candidates per page (the candidate bar sets it); text: initial value.
    Paging through the candidates is CandidatePages (kiosk/ime/paging.py).
    """

    def __init__(self, *, kind: str = "name", max_length: int = 40, layouts: tuple[str, ...] | None = None,
                 layout: str | None = None, page_size: int = 6, engine: PinyinEngine | None = None,
                 text: str = ""):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, not {kind!r}")
        if max_length < 1:
            raise ValueError("max_length must be at least 1")
        self.kind = kind
        self.max_length = int(max_length)
        self.layout_names: tuple[str, ...] = tuple(layouts or KINDS[kind])
        if not self.layout_names or any(n not in LAYOUT_TITLES for n in self.layout_names):
            raise ValueError(f"layouts must be drawn from {sorted(LAYOUT_TITLES)}")
        self._layouts: dict[str, Layout] = {}
        for i, n in enumerate(self.layout_names):
            nxt = self.layout_names[(i + 1) % len(self.layout_names)] if len(self.layout_names) > 1 else None
            self._layouts[n] = build_layout(n, kind, nxt)
        self.layout: Layout = self._layouts[layout or self.layout_names[0]]
        self._engine = engine
        self.text = ""
        self.composition = ""
        self.candidates: list[Candidate] = []
        self.page = 0
        self._page_size = max(1, int(page_size))
        self.shift = False
        self.caps = False
        self._on_change: list[Listener] = []
        self._on_submit: list[Listener] = []
        if text:
            self.insert_text(text)
        self._auto_shift()

    # ------------------------------------------------------------- observers
    def bind(self, on_change: Listener | None = None, on_submit: Listener | None = None) -> None:
        if on_change:
            self._on_change.append(on_change)
        if on_submit:
            self._on_submit.append(on_submit)

    def unbind(self, on_change: Listener | None = None, on_submit: Listener | None = None) -> None:
        if on_change in self._on_change:
            self._on_change.remove(on_change)
        if on_submit in self._on_submit:
            self._on_submit.remove(on_submit)

    def _changed(self) -> bool:
        for fn in list(self._on_change):
            fn(self)
        return True

    # ------------------------------------------------------------- read-only state
    @property
    def engine(self) -> PinyinEngine:
        if self._engine is None:
            self._engine = get_engine()
        return self._engine

    @property
    def layouts(self) -> dict[str, Layout]:
        return dict(self._layouts)

    @property
    def room(self) -> int:
        """Code points that can still be committed."""
        return self.max_length - len(self.text)

    @property
    def context(self) -> str:
        """How candidates are ranked: surname / given (name fields) or text."""
        if self.kind != "name":
            return "text"
        return "given" if any("\u3400" <= ch <= "\u9fff" for ch in self.text) else "surname"

    @property
    def preedit(self) -> str:
        """The composition split into syllables, as shown above the candidates."""
        return self.engine.preedit(self.composition) if self.composition else ""

    @property
    def upper(self) -> bool:
        return self.shift or self.caps

    def snapshot(self) -> dict:
        return {"text": self.text, "composition": self.composition, "preedit": self.preedit,
                "layout": self.layout.name, "page": self.page, "page_count": self.page_count,
                "candidates": [c.text for c in self.page_candidates], "max_length": self.max_length,
                "shift": self.upper}

    # ------------------------------------------------------------- input
    def press(self, key_id: str) -> bool:
        """A key of the current layout by id ("a", "space", "backspace", ...).

        Returns whether anything changed; a key the current layout lacks (a letter on the
        digit pad) is refused.
        """
        key = self.layout.key(key_id) if isinstance(key_id, str) else None
        if key is None:
            return False
        return self.press_key(key)

    def press_key(self, key: Key) -> bool:
        if self.layout.key(key.id) != key:
            return False
        zh = self.layout.name == "zh"
        act = key.action
        if act == LETTER:
            if zh:
                return self._compose(key.value)
            letter = key.value.upper() if self.upper else key.value
            if self._insert(letter):
                if self.shift and not self.caps:
                    self.shift = False
                self._auto_shift()
                return self._changed()
            return False
        if act == SEPARATOR:
            if zh:
                if self.composition and not self.composition.endswith("'"):
                    return self._compose("'")
                return False
            return self._insert_and_notify(key.value)
        if act == CHAR:
            changed = self._commit_first() if zh and self.composition else False
            if self._insert(key.value):
                self._auto_shift()
                return self._changed()
            return self._changed() if changed else False
        if act == SPACE:
            if zh and self.composition:
                return self.choose_global(0)
            if not self.text or self.text.endswith(" "):
                return False  # no leading or doubled spaces
            if self._insert(" "):
                self._auto_shift()
                return self._changed()
            return False
        if act == BACKSPACE:
            return self.backspace()
        if act == CLEAR:
            return self.clear()
        if act == TOGGLE:
            return self.toggle()
        if act == ENTER:
            return self.enter()
        if act == SHIFT:
            if self.caps:
                self.caps = self.shift = False
            elif self.shift:
                self.caps = True
            else:
                self.shift = True
            return self._changed()
        return False

    def choose_global(self, index: int) -> bool:
        """Commit candidate `index` of the whole list."""
        if not 0 <= index < len(self.candidates):
            return False
        cand = self.candidates[index]
        if len(cand.text) > self.room or not all(_acceptable(ch) for ch in cand.text):
            return False
        self.text += cand.text
        self.composition = self.composition[cand.consumed:].lstrip("'")
        self._refresh()
        return self._changed()

    def backspace(self) -> bool:
        if self.composition:
            self.composition = self.composition[:-1]
            self._refresh()
            return self._changed()
        if self.text:
            self.text = self.text[:-1]
            self._auto_shift()
            return self._changed()
        return False

    def clear(self) -> bool:
        if not self.text and not self.composition:
            return False
        self.text = ""
        self.composition = ""
        self._refresh()
        self._auto_shift()
        return self._changed()

    def toggle(self) -> bool:
        """The next layout of this field; a pending composition is kept as typed letters."""
        if len(self.layout_names) < 2:
            return False
        i = self.layout_names.index(self.layout.name)
        return self.set_layout(self.layout_names[(i + 1) % len(self.layout_names)])

    def set_layout(self, name: str) -> bool:
        if name not in self._layouts:
            return False
        if name == self.layout.name:
            return False
        self._commit_letters()
        self.layout = self._layouts[name]
        self.shift = self.caps = False
        self._auto_shift()
        return self._changed()

    def enter(self) -> bool:
        """With a composition: commit its letters as typed. Otherwise: submit the field."""
        if self.composition:
            self._commit_letters()
            return self._changed()
        for fn in list(self._on_submit):
            fn(self)
        return False

    def finish(self) -> str:
        """Leaving the field: commit what is still composed (as typed) and return the text."""
        if self.composition:
            self._commit_letters()
            self._changed()
        return self.text

    def insert_text(self, value: str) -> bool:
        """Put text in programmatically (a pre-filled value, a scanned code).

        Characters the field cannot hold are dropped (control and invisible characters,
        letters in a phone field); the rest is cut at the field's limit.
        """
        if not isinstance(value, str):
            return False
        self._commit_letters()
        allowed = (lambda ch: ch in "0123456789+") if self.kind == "phone" else \
            (lambda ch: ch in "0123456789") if self.kind == "pin" else _acceptable
        add = "".join(ch for ch in value[: self.max_length * 4] if allowed(ch))[: self.room]
        if not add:
            return False
        self.text += add
        self._auto_shift()
        return self._changed()

    # ------------------------------------------------------------- internals
    def _compose(self, letter: str) -> bool:
        if self.room <= 0 or len(self.composition) >= MAX_COMPOSITION:
            return False
        if letter == "'" and (not self.composition or self.composition.endswith("'")):
            return False
        self.composition += letter
        self._refresh()
        return self._changed()

    def _insert(self, value: str) -> bool:
        if not value or len(value) > self.room or not all(_acceptable(ch) for ch in value):
            return False
        self.text += value
        return True

    def _insert_and_notify(self, value: str) -> bool:
        if self._insert(value):
            self._auto_shift()
            return self._changed()
        return False

    def _commit_first(self) -> bool:
        if not self.candidates:
            return False
        return self.choose_global(0)

    def _commit_letters(self) -> None:
        """Commit the composition as the letters typed (cut to the room left)."""
        if self.composition:
            self.text += self.composition[: max(0, self.room)]
            self.composition = ""
            self._refresh()

    def _refresh(self) -> None:
        self.page = 0
        if not self.composition:
            self.candidates = []
            return
        room = self.room
        out: list[Candidate] = []
        for c in self.engine.candidates(self.composition, self.context):
            if c.kind == "latin":
                if len(c.text) > room:
                    c = Candidate(c.text[:room], c.consumed, "latin")
            elif len(c.text) > room:
                continue
            if c.text:
                out.append(c)
        self.candidates = out

    def _auto_shift(self) -> None:
        """Latin names start each word with a capital (Jean-Luc O'Brien)."""
        if self.kind == "name" and self.layout.name == "en" and not self.caps:
            self.shift = not self.text or self.text[-1] in " -'"
