"""Screen templates the flows are made of: one question per screen.

- ChoiceScreen: a question and big buttons (purposes, ticket kinds, faces' reasons ...).
- TextScreen: a question, the field and the on-screen keyboard of kiosk.ime
  (pinyin for names and descriptions, Latin, digits for phones and codes).
- ConfirmScreen: every detail read back ("请您核对确认") with a "change" button per line.
- ResultScreen: what happened (a service's Message), a big number if any, next actions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.clock import Clock
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.ime.keyboard import TextEntry
from kiosk.ime.widgets import EntryDisplay
from kiosk.widgets import KScreen


def show_field_error(screen: Any, zh: str, en: str) -> None:
    """Put a validation message where the step's screen shows one: its error line,
    or the note above a choice grid."""
    if hasattr(screen, "show_error"):
        screen.show_error(zh, en)
    elif hasattr(screen, "error_zh"):
        screen.error_zh, screen.error_en = zh, en
    elif hasattr(screen, "note_zh"):
        screen.note_zh, screen.note_en = zh, en
    screen.resume()  # the visitor corrects it here and goes on again


class ChoiceScreen(KScreen):
    question_key = StringProperty("")
    note_zh = StringProperty("")  # a message above the choices (e.g. an error), zh/en
    note_en = StringProperty("")
    cols = NumericProperty(2)
    cols_portrait = NumericProperty(1)
    extra = ListProperty([])  # buttons under the grid: [{key, value, style, tid}]

    def __init__(self, on_choose: Callable[[Any], None] | None = None,
                 choices: Callable[[], list[dict[str, Any]]] | list[dict[str, Any]] | None = None, **kw: Any):
        super().__init__(**kw)
        self._on_choose = on_choose
        self._choices = choices

    def refresh(self) -> None:
        choices = self._choices() if callable(self._choices) else (self._choices or [])
        self.ids.grid.show(choices, self.choose)
        self.ids.extra.show(self.extra, self.choose)

    def set_choices(self, choices: list[dict[str, Any]]) -> None:
        self._choices = choices
        self.refresh()

    def choose(self, value: Any) -> None:
        if self._on_choose is not None and self.begin():
            self._on_choose(value)

    def wipe(self) -> None:
        self.note_zh = self.note_en = ""


class TextScreen(KScreen):
    """One text field with the on-screen keyboard.

    `kind`: name, text, code or phone (kiosk.ime.keyboard.KINDS); `layouts` overrides the
    layouts offered; `load()` returns the current value (coming back to change it);
    `done(text)` is called with the committed text on Next / Done / Skip ("" for skip).
    """

    question_key = StringProperty("")
    kind = StringProperty("name")
    max_length = NumericProperty(40)
    optional = BooleanProperty(False)
    error_zh = StringProperty("")
    error_en = StringProperty("")
    placeholder_key = StringProperty("")
    skip_key = StringProperty("common.skip")
    entry = ObjectProperty(None, allownone=True)
    full = BooleanProperty(False)  # the text has reached max_length: the screen says so

    def __init__(self, done: Callable[[str], None], load: Callable[[], str | None] | None = None,
                 layouts: tuple[str, ...] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self._done = done
        self._load = load
        self._layouts = layouts
        self._error_text = ""  # the text the error shown is about (typing anything else clears it)
        self.display = EntryDisplay(font_name=self.app.font_file or "Roboto", markup=True)
        self.display.tid = "field"
        self.display.font_size = self.app.fs_big
        self.app.bind(fs_big=lambda _a, v: setattr(self.display, "font_size", v), lang=self._on_lang)
        Clock.schedule_once(self._place, 0)

    def _place(self, _dt: float) -> None:
        self.ids.field_holder.add_widget(self.display, index=len(self.ids.field_holder.children))

    def refresh(self) -> None:
        if self.entry is None:
            value = (self._load() if self._load else None) or ""
            self.entry = TextEntry(kind=self.kind, max_length=int(self.max_length), layouts=self._layouts,
                                   text=value)
            self.entry.bind(on_change=self._typed)
            follow_language(self.entry, self.app.lang)
        self._show_placeholder()
        self.app.keyboard.attach(self, self.ids.kb_holder, self.entry, on_submit=self.submit)
        self._typed(self.entry)

    def _show_placeholder(self) -> None:
        self.display.placeholder = self.app.t(self.placeholder_key or self.question_key, self.app.lang)
        self.display.entry = None
        self.display.entry = self.entry

    def _on_lang(self, _app: Any, lang: str) -> None:
        """The visitor switched language mid-flow: the field's hint and the keyboard follow."""
        if self.entry is None:
            return
        follow_language(self.entry, lang)
        self._show_placeholder()

    def _typed(self, entry: TextEntry) -> None:
        """What was typed changed: an error about the old text is stale; say when the field is full."""
        if entry is not self.entry:
            return
        if self.error_zh and entry.text != self._error_text:
            self.error_zh = self.error_en = ""
        self.full = len(entry.text) >= int(self.max_length) > 0

    def on_leave(self, *args: Any) -> None:
        # the keyboard stops following this entry; the entry itself stays until wipe() or done
        pass

    def submit(self) -> None:
        if self.entry is None or not self.begin():
            return
        text = self.entry.finish().strip()
        if not text and not self.optional:
            from kiosk import i18n

            self.show_error(*i18n.pair("common.cannot_empty"))
            return
        self.error_zh = self.error_en = ""
        self._done(text)

    def on_scan(self, text: str) -> None:
        """A USB scanner typed a code and Enter (an invitation QR code): as if typed and submitted."""
        if not self.begin():
            return
        if self.entry is not None:
            self.entry.clear()
        self.error_zh = self.error_en = ""
        self._done(text.strip())

    def skip(self) -> None:
        if not self.begin():
            return
        self.error_zh = self.error_en = ""
        if self.entry is not None:
            self.entry.clear()
        self._done("")

    def show_error(self, zh: str, en: str) -> None:
        self.error_zh, self.error_en = zh, en
        self._error_text = self.entry.text if self.entry is not None else ""
        self.resume()

    def reset(self) -> None:
        """Forget the field's text now (the value went into the draft or was submitted)."""
        self.wipe()

    def wipe(self) -> None:
        entry = self.entry
        if entry is not None:
            entry.clear()
            entry.candidates = []
        self.app.keyboard.detach(self)
        self.display.entry = None
        self.display.text = ""
        self.entry = None
        self.error_zh = self.error_en = ""
        self._error_text = ""
        self.full = False


def follow_language(entry: TextEntry, lang: str) -> None:
    """Show the keyboard layout of the display language: EN in English, 中 in Chinese (for a field whose
    first layout is 中); a composition under way is left alone."""
    if entry.composition:
        return
    names = entry.layout_names
    if lang == "en" and entry.layout.name == "zh" and "en" in names:
        entry.set_layout("en")
    elif lang == "zh" and entry.layout.name == "en" and names[0] == "zh":
        entry.set_layout("zh")


class ConfirmRow(BoxLayout):
    label_zh = StringProperty("")
    label_en = StringProperty("")
    value = StringProperty("")
    step = StringProperty("")
    tid = StringProperty("")


class ConfirmScreen(KScreen):
    """Lines read back before submitting; each has a "change" button back to its step."""

    heading_key = StringProperty("ci.confirm.title")
    error_zh = StringProperty("")
    error_en = StringProperty("")
    busy = BooleanProperty(False)

    def __init__(self, lines: Callable[[], list[tuple[str, str, str, str]]], submit: Callable[[], None],
                 change: Callable[[str], None], **kw: Any) -> None:
        super().__init__(**kw)
        self._lines = lines
        self._submit = submit
        self._change = change
        self._rows: list[ConfirmRow] = []

    def refresh(self) -> None:
        self.busy = False
        lines = self._lines()
        box = self.ids.rows
        while len(self._rows) < len(lines):
            self._rows.append(ConfirmRow())
        for i, row in enumerate(self._rows):
            if i < len(lines):
                zh, en, value, step = lines[i]
                row.label_zh, row.label_en, row.value, row.step = zh, en, value, step
                row.tid = f"line_{i}"
                if row.parent is None:
                    box.add_widget(row)
            elif row.parent is not None:
                box.remove_widget(row)
                row.value = ""

    def change(self, step: str) -> None:
        if step:
            self._change(step)

    def submit(self) -> None:
        if not self.busy and self.begin():
            self.busy = True
            self._submit()

    def wipe(self) -> None:
        for row in self._rows:
            row.value = ""
        self.error_zh = self.error_en = ""
        self.busy = False


class ResultScreen(KScreen):
    """The outcome of an action: a title, a big value (pass or ticket number), the message."""

    heading_key = StringProperty("")
    heading_zh = StringProperty("")
    heading_en = StringProperty("")
    big_label_key = StringProperty("")
    big_value = StringProperty("")
    message_zh = StringProperty("")
    message_en = StringProperty("")
    status_zh = StringProperty("")  # a second message (printing, host status)
    status_en = StringProperty("")
    style = StringProperty("ok")
    auto_home_s = NumericProperty(0)
    actions = ListProperty([])  # [{key, value, style, tid}]

    def __init__(self, on_action: Callable[[Any], None] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self._on_action = on_action
        self._timer: Any = None

    def refresh(self) -> None:
        self.ids.actions.show(self.actions, self.act)
        self._arm()

    def on_actions(self, *_: Any) -> None:
        if "actions" in self.ids:
            self.ids.actions.show(self.actions, self.act)

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.auto_home_s > 0:
            self._timer = Clock.schedule_once(lambda dt: self._auto_home(), self.auto_home_s)

    def _auto_home(self) -> None:
        self._timer = None
        if self.manager is not None and self.manager.current == self.name:
            self.app.home()

    def on_leave(self, *args: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def act(self, value: Any) -> None:
        if value == "home":
            self.app.home()
        elif self._on_action is not None:
            self._on_action(value)

    def set_message(self, message: Any) -> None:
        self.message_zh, self.message_en = message.zh, message.en

    def wipe(self) -> None:
        self.big_value = ""
        self.message_zh = self.message_en = self.status_zh = self.status_en = ""
        self.heading_zh = self.heading_en = ""
