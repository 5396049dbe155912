"""The kiosk's building blocks: bilingual buttons and labels, the header, page and grids.

Every widget a test may press has a `tid` (a stable test name); the test probe
(kiosk/testing/probe.py) writes their screen rectangles. Texts come from the catalogue
(`key`) or from the services (`zh` / `en`); both languages are shown, the display
language first. Lists reuse a pool of buttons: a new result list changes texts and
visibility, it does not create widgets (Kivy textures would pile up otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.graphics import Color, Ellipse, Line
from kivy.lang import Builder
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    OptionProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget
from kivy.utils import escape_markup

from kiosk import i18n
from kiosk.icons import glyph

STYLES = ("primary", "secondary", "choice", "selected", "danger", "ok", "ghost", "key")


def bilingual(key: str, zh: str, en: str, lang: str, small: float, only: bool = False, icon: str = "",
              icon_size: float = 0, inline: bool = False, **fmt: Any) -> str:
    """Markup for a two-language text: display language first, the other smaller below (beside it when
    `inline`: one line where it fits, broken between the languages where it does not); an icon above."""
    if key:
        zh, en = i18n.pair(key, **fmt)
    first, second = i18n.order(zh, en, lang)
    if not first:
        first, second = second, ""
    first, second = escape_markup(first), escape_markup(second)
    mark = f"{glyph(icon, icon_size)}\n" if icon else ""
    if only or not second or second == first:
        return mark + first
    return f"{mark}{first}{'   ' if inline else chr(10)}[size={max(8, int(small))}]{second}[/size]"


class KButton(Button):
    """A big bilingual button. Its text shrinks (down to 60 %) when a long translation would not fit."""

    tid = StringProperty("")
    key = StringProperty("")
    zh = StringProperty("")
    en = StringProperty("")
    style = OptionProperty("primary", options=STYLES)
    only = BooleanProperty(False)  # one language only (e.g. a number)
    value = ObjectProperty(None, allownone=True)
    fmt = ObjectProperty({})
    shrink = NumericProperty(1.0)
    icon = StringProperty("")  # a kiosk.icons name, drawn above the text
    pinned = BooleanProperty(False)  # stays put at the bottom of its screen: nothing may lie behind it
    # the app's display language (widgets.kv): a kv binding goes with the widget, whereas one made on
    # the app here stayed in the app's observers after the screen was dropped, until the language changed
    lang = StringProperty("")

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.bind(key=self._refit, zh=self._refit, en=self._refit, size=self._refit, icon=self._refit,
                  lang=self._refit)

    def _refit(self, *_: Any) -> None:
        if self.shrink != 1.0:
            self.shrink = 1.0
        else:  # the same text in a smaller button draws the same texture: no texture event to shrink on
            Clock.schedule_once(lambda dt: self.on_texture_size(self, self.texture_size), 0)

    def on_texture_size(self, _w: Any, size: Any) -> None:
        if (size[1] > self.height - 2 or size[0] > self.width - 2) and self.shrink > 0.62 and self.height > 1:
            self.shrink = round(self.shrink - 0.08, 2)


class KLabel(Label):
    """A bilingual label. `fit`: it takes the height its layout gives it and its text shrinks (to 60 %)
    until it fits there, instead of growing with its text."""

    tid = StringProperty("")
    key = StringProperty("")
    zh = StringProperty("")
    en = StringProperty("")
    only = BooleanProperty(False)
    role = OptionProperty("body", options=("body", "title", "small", "huge", "big", "header", "question"))
    fmt = ObjectProperty({})
    inline = BooleanProperty(False)  # both languages on one line where they fit
    icon = StringProperty("")
    fit = BooleanProperty(False)
    shrink = NumericProperty(1.0)
    lang = StringProperty("")  # the app's display language (widgets.kv; see KButton.lang)

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.bind(key=self._refit, zh=self._refit, en=self._refit, size=self._refit, fmt=self._refit,
                  lang=self._refit)

    def _refit(self, *_: Any) -> None:
        if self.fit and self.shrink != 1.0:
            self.shrink = 1.0
        elif self.fit:
            Clock.schedule_once(lambda dt: self.on_texture_size(self, self.texture_size), 0)

    def on_texture_size(self, _w: Any, size: Any) -> None:
        if self.fit and self.height > 1 and (size[1] > self.height + 1) and self.shrink > 0.62:
            self.shrink = round(self.shrink - 0.06, 2)


class StepDots(Widget):
    """Where the visitor is in a flow: "3 / 6" and a dot per step (done and current filled)."""

    tid = StringProperty("")
    step = NumericProperty(0)
    steps = NumericProperty(0)
    text = StringProperty("")
    color = ListProperty([0.05, 0.33, 0.64, 1])

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.bind(pos=self._draw, size=self._draw, step=self._draw, steps=self._draw, color=self._draw)

    def _draw(self, *_: Any) -> None:
        n, i = int(self.steps), int(self.step)
        self.text = f"{i} / {n}" if n else ""
        self.canvas.after.clear()
        if n <= 0:
            return
        gap = self.width / n
        r = max(2.0, min(gap * 0.3, self.height * 0.22))
        x0 = self.x + gap / 2
        y = self.center_y
        with self.canvas.after:
            for k in range(n):
                Color(*self.color)
                if k < i:
                    Ellipse(pos=(x0 + k * gap - r, y - r), size=(2 * r, 2 * r))
                else:
                    Line(circle=(x0 + k * gap, y, r), width=1.2)


class QuestionBar(BoxLayout):
    """The question of a screen, in the one style of every screen, with the step indicator beside it."""

    key = StringProperty("")
    zh = StringProperty("")
    en = StringProperty("")
    fmt = ObjectProperty({})
    step = NumericProperty(0)
    steps = NumericProperty(0)
    halign = StringProperty("left")
    alert_zh = StringProperty("")  # shown in the question's place while set (a text screen's error: no room for both)
    alert_en = StringProperty("")
    alert_tid = StringProperty("error")
    alert_color = ListProperty([0.69, 0.0, 0.13, 1])


class ConfirmCell(ButtonBehavior, BoxLayout):
    """One line read back on a confirm screen: what it is, the value, and a pencil; tapping it changes it."""

    tid = StringProperty("")
    value_tid = StringProperty("")
    label_zh = StringProperty("")
    label_en = StringProperty("")
    value = StringProperty("")
    step = StringProperty("")
    disabled_look = BooleanProperty(False)


class Header(BoxLayout):
    screen = ObjectProperty(None, allownone=True)


class KPage(BoxLayout):
    pass


class KScreen(Screen):
    """A screen of the kiosk: a title, a way back, `refresh()` on entry, `wipe()` on idle.

    One "next" action per visit: a handler that moves the visitor on (or stores something)
    starts with `if not self.begin(): return`, so a second tap before the screen changes
    does nothing; `resume()` (on entry, after an error shown here, when an overlay closes)
    allows the next one. Every scrolled list is back at its top on entry.
    """

    title_key = StringProperty("")
    show_back = BooleanProperty(True)
    show_home = BooleanProperty(True)
    scanner = BooleanProperty(False)  # accepts a USB scanner's keyboard input (badge QR, invitation QR)
    acting = BooleanProperty(False)  # a "next" action started on this visit and has not come back
    step = NumericProperty(0)  # where this screen is in its flow (0: not a step of a flow)
    steps = NumericProperty(0)

    @property
    def app(self) -> Any:
        return App.get_running_app()

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        # bound, not overridden: screens that define on_leave need not call up to this
        self.fbind("on_leave", self.release_textures)

    def begin(self) -> bool:
        """Start this visit's "next" action: False if one is already under way (a double tap)."""
        if self.acting:
            return False
        self.acting = True
        return True

    def resume(self) -> None:
        """The screen takes a new action (entered again, or it shows why the last one did not go on)."""
        self.acting = False

    def on_pre_enter(self, *args: Any) -> None:
        self.restore_textures()
        self.resume()
        self.scroll_to_top()
        self.refresh()
        self.step, self.steps = self.app.step_position(self.name)

    def scroll_to_top(self) -> None:
        """A list starts at its top for every visitor (never where the previous one left it)."""
        from kivy.uix.scrollview import ScrollView

        for w in self.walk(restrict=True):
            if isinstance(w, ScrollView):
                w.scroll_y = 1
                w.scroll_x = 0

    def _labels(self) -> list[Label]:
        """The labels drawn by this screen, without the shared keyboard (it moves between screens)."""
        from kiosk.ime.widgets import ImeKeyboard

        found: list[Label] = []
        stack = list(self.children)
        while stack:
            w = stack.pop()
            if isinstance(w, ImeKeyboard):
                continue
            if isinstance(w, Label):
                found.append(w)
            stack.extend(w.children)
        return found

    def release_textures(self, *_: Any) -> None:
        """Let go of this screen's text textures while it is not shown.

        A Kivy label keeps its rendered text as a texture for as long as the widget lives,
        and the screens live for the whole run: with software OpenGL that is system memory
        for every label of every screen ever shown. The sizes stay (texture_size), so
        nothing moves; `restore_textures` draws them again before the screen is next shown."""
        for w in self._labels():
            if w.texture is not None:
                w._label.texture = None
                w.texture = None

    def restore_textures(self) -> None:
        for w in self._labels():
            if w.texture is None and w.text:
                w.texture_update()

    def refresh(self) -> None:
        """Show current data (called every time the screen is entered)."""

    def wipe(self) -> None:
        """Forget everything a person entered on this screen (idle timeout, home)."""

    def on_scan(self, text: str) -> None:
        """A line typed by a USB scanner (only when `scanner` is True)."""


class ButtonPool(GridLayout):
    """A grid of KButtons made once and relabelled for each list of choices.

    `show(choices, on_choose)`: choices are dicts with value, zh, en (or key), optional style, tid.
    """

    tid_prefix = StringProperty("choice")
    max_buttons = NumericProperty(12)
    button_height = NumericProperty(0)  # 0: fill the grid's height
    pinned = BooleanProperty(False)  # its buttons are pinned at the bottom of the screen

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._buttons: list[KButton] = []
        self._on_choose: Callable[[Any], None] | None = None

    def _make(self, index: int) -> KButton:
        b = KButton(style="choice", tid=f"{self.tid_prefix}_{index}")
        b.bind(on_release=self._pressed)
        return b

    def show(self, choices: list[dict[str, Any]], on_choose: Callable[[Any], None]) -> None:
        self._on_choose = on_choose
        while len(self._buttons) < len(choices):
            self._buttons.append(self._make(len(self._buttons)))
        for i, b in enumerate(self._buttons):
            if i < len(choices):
                c = choices[i]
                b.key = c.get("key", "")
                b.zh = c.get("zh", "")
                b.en = c.get("en", "")
                b.value = c.get("value")
                b.style = c.get("style", "choice")
                b.only = bool(c.get("only", False))
                b.tid = c.get("tid", f"{self.tid_prefix}_{i}")
                b.disabled = bool(c.get("disabled", False))
                b.icon = c.get("icon", "")
                b.pinned = self.pinned
                if b.parent is None:
                    self.add_widget(b)
            elif b.parent is not None:
                self.remove_widget(b)
                b.value = None
                b.zh = b.en = b.key = ""

    def clear(self) -> None:
        self.show([], lambda v: None)

    def _pressed(self, button: KButton) -> None:
        if self._on_choose is not None:
            self._on_choose(button.value)

    @property
    def buttons(self) -> list[KButton]:
        return [b for b in self._buttons if b.parent is not None]


class Face(Button):
    """A feedback face drawn with lines (no emoji font needed): mood -2 (very unhappy) .. 2 (very happy)."""

    mood = NumericProperty(0)
    tid = StringProperty("")
    face_color = ListProperty([0.5, 0.5, 0.5, 1])
    key = StringProperty("")
    zh = StringProperty("")
    en = StringProperty("")
    value = ObjectProperty(None, allownone=True)

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.bind(pos=self._draw, size=self._draw, mood=self._draw, face_color=self._draw)
        self._draw()

    def _draw(self, *_: Any) -> None:
        self.canvas.after.clear()
        label_h = self.height * 0.36
        d = max(10.0, min(self.width * 0.78, (self.height - label_h) * 0.84))
        cx = self.center_x
        cy = self.y + label_h + (self.height - label_h) / 2
        r = d / 2
        w = max(2.0, d / 24)
        m = float(self.mood)
        eye = r * 0.17
        mouth_y = cy - r * 0.30 + (r * 0.08 if m < 0 else 0)
        half = r * (0.42 + 0.06 * abs(m))
        strength = 0.0 if not m else (0.20 if abs(m) < 1.5 else 0.62)
        dip = r * strength * (1 if m > 0 else -1)  # control point below the ends: a smile; above: a frown
        with self.canvas.after:
            Color(*self.face_color)
            Line(circle=(cx, cy, r), width=w)
            Ellipse(pos=(cx - r * 0.36 - eye / 2, cy + r * 0.18 - eye / 2), size=(eye, eye))
            Ellipse(pos=(cx + r * 0.36 - eye / 2, cy + r * 0.18 - eye / 2), size=(eye, eye))
            Line(bezier=(cx - half, mouth_y, cx, mouth_y - dip, cx + half, mouth_y), width=w)


class SharedKeyboard:
    """The one on-screen keyboard (kiosk.ime.widgets.ImeKeyboard), moved to whichever field needs it.

    Built once for the whole app, so its key grids and their textures exist once, not per screen.
    `attach(owner, holder, entry, ...)` puts it under `holder` following `entry`;
    `detach(owner)` takes it away if `owner` still has it.
    """

    def __init__(self, app: Any) -> None:
        from kiosk.ime.widgets import ImeKeyboard

        self.kb = ImeKeyboard(font_name=app.font_file or "Roboto")
        self.kb.key_height = app.tap
        app.bind(tap=lambda _a, v: setattr(self.kb, "key_height", v))
        self.owner: Any = None
        self._on_text: Callable[[str], None] | None = None
        self._on_submit: Callable[[], None] | None = None
        self.kb.bind(on_text=self._text, on_submit=self._submit)

    def attach(self, owner: Any, holder: Widget, entry: Any, on_text: Callable[[str], None] | None = None,
               on_submit: Callable[[], None] | None = None, candidates: bool = True) -> None:
        if self.kb.parent is not None and self.kb.parent is not holder:
            self.kb.parent.remove_widget(self.kb)
        self.owner, self._on_text, self._on_submit = owner, on_text, on_submit
        self.kb.show_candidates = candidates
        self.kb.entry = entry
        if self.kb.parent is None:
            holder.add_widget(self.kb)

    def detach(self, owner: Any) -> None:
        if self.owner is not owner:
            return
        self.owner = self._on_text = self._on_submit = None
        self.kb.entry = None
        if self.kb.parent is not None:
            self.kb.parent.remove_widget(self.kb)

    def _text(self, _kb: Any, text: str) -> None:
        if self._on_text is not None:
            self._on_text(text)

    def _submit(self, _kb: Any, _text: str) -> None:
        if self._on_submit is not None:
            self._on_submit()


def load_kv() -> None:
    path = Path(__file__).with_name("widgets.kv")
    if str(path) not in Builder.files:
        Builder.load_file(str(path))


def scrub_labels(root: Widget) -> int:
    """Drop the text layout Kivy keeps from a label's last rendering once its text is empty.

    Kivy does not re-render a label whose text became "", so its core label keeps the
    previous text in its cached layout lines; after an idle wipe that would be the
    visitor's name. Returns how many labels were scrubbed.
    """
    n = 0
    for w in root.walk(restrict=True):
        core = getattr(w, "_label", None)
        if isinstance(w, Label) and core is not None and not w.text and getattr(core, "_cached_lines", None):
            core._cached_lines = []
            n += 1
    return n


def walk_named(root: Widget) -> list[Widget]:
    """Every widget with a non-empty `tid` under root (depth first)."""
    out = []
    stack = [root]
    while stack:
        w = stack.pop()
        if getattr(w, "tid", ""):
            out.append(w)
        stack.extend(reversed(w.children))
    return out
