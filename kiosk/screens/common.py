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
from kivy.uix.widget import Widget

from kiosk.ime.keyboard import TextEntry
from kiosk.ime.widgets import EntryDisplay
from kiosk.widgets import ConfirmCell, KScreen

WIDE_VALUE = 28  # a value longer than this is read back across the whole width


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
    limit_zh = StringProperty("")
    limit_en = StringProperty("")

    alt_key = StringProperty("")  # another way on beside Next (e.g. "I have an invitation code")
    alt_tid = StringProperty("")
    alt_icon = StringProperty("")

    def __init__(self, done: Callable[[str], None], load: Callable[[], str | None] | None = None,
                 layouts: tuple[str, ...] | None = None, alt: dict[str, str] | None = None,
                 on_alt: Callable[[], None] | None = None, scan: Callable[[str], None] | None = None,
                 **kw: Any) -> None:
        super().__init__(**kw)
        self._done = done
        self._load = load
        self._layouts = layouts
        self._on_alt = on_alt
        self._scan = scan
        if alt:
            self.alt_key, self.alt_tid, self.alt_icon = alt["key"], alt.get("tid", "alt"), alt.get("icon", "")
        self._error_text = ""  # the text the error shown is about (typing anything else clears it)
        self.display = EntryDisplay(font_name=self.app.font_file or "Roboto", markup=True)
        self.display.tid = "field"
        self.display.font_size = self.app.fs_big
        # methods, not lambdas: the app holds them weakly, so a screen dropped at home can go
        self.app.bind(fs_big=self._on_fs_big, lang=self._on_lang, portrait=self._on_portrait)
        Clock.schedule_once(self._place, 0)

    def _on_fs_big(self, _app: Any, size: float) -> None:
        self.display.font_size = size

    def _on_portrait(self, *_: Any) -> None:
        self._place_buttons()

    def _place(self, _dt: float) -> None:
        self.ids.field_holder.add_widget(self.display, index=len(self.ids.field_holder.children))
        self._place_buttons()

    def _place_buttons(self) -> None:
        """Beside the field in landscape; in portrait on a row of their own below it (the field keeps
        its width). Only the buttons this screen shows move."""
        holder, extra = self.ids.field_holder, self.ids.extra_row
        for button in (self.ids.alt_button, self.ids.skip_button):
            if button.parent is not None:
                button.parent.remove_widget(button)
        shown = [b for b in (self.ids.alt_button, self.ids.skip_button) if not b.disabled]
        if self.app.portrait:
            for button in shown:
                button.size_hint_x = 1
                extra.add_widget(button)
        else:
            for button in (self.ids.alt_button, self.ids.skip_button):
                button.size_hint_x = None
                holder.add_widget(button, index=1)  # before Next

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
        if self.full:
            from kiosk import i18n

            self.limit_zh, self.limit_en = i18n.pair("common.field_full", n=int(self.max_length))

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
        """A USB scanner typed a code and Enter (an invitation QR code): as if typed and submitted
        (or handed to `scan`, e.g. the name screen takes an invitation's QR code)."""
        if not self.begin():
            return
        if self._scan is not None:
            self._scan(text.strip())
            return
        if self.entry is not None:
            self.entry.clear()
        self.error_zh = self.error_en = ""
        self._done(text.strip())

    def alt(self) -> None:
        if self._on_alt is not None and self.begin():
            self._on_alt()

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


class ConfirmScreen(KScreen):
    """Every line read back before submitting, all on screen at once (two columns; one in portrait),
    with Confirm pinned below them; tapping a line goes back to its step to change it."""

    heading_key = StringProperty("ci.confirm.title")
    error_zh = StringProperty("")
    error_en = StringProperty("")
    busy = BooleanProperty(False)
    changeable = BooleanProperty(False)  # some line can be changed (tapped)

    def __init__(self, lines: Callable[[], list[tuple[str, str, str, str]]], submit: Callable[[], None],
                 change: Callable[[str], None], **kw: Any) -> None:
        super().__init__(**kw)
        self._lines = lines
        self._submit = submit
        self._change = change
        self._cells: list[ConfirmCell] = []
        self._rows: list[BoxLayout] = []
        self._shown: list[tuple[str, str, str, str]] = []
        self._laid_height = 0.0
        self._relayout = Clock.create_trigger(lambda dt: self._lay_out(), 0)
        self.app.bind(portrait=self._on_portrait)  # a method: held weakly by the app
        # Bound now, not a frame later: a screen built on its first visit is entered and laid out
        # in the same frame, and a resize missed then left long values wrapped in a half-wide cell.
        self.ids.rows.bind(size=self._rows_resized)

    def _on_portrait(self, *_: Any) -> None:
        self._relayout()

    def refresh(self) -> None:
        self.busy = False
        self._shown = self._lines()
        self.changeable = any(step for *_, step in self._shown)
        self._lay_out()

    def _cell(self, i: int) -> ConfirmCell:
        while len(self._cells) <= i:
            cell = ConfirmCell()
            cell.bind(on_release=lambda c: self.change(c.step))
            self._cells.append(cell)
        return self._cells[i]

    def _groups(self, cols: int, wide_ok: bool) -> list[tuple[list[int], bool]]:
        """Lines paired into rows in their order; long values (when `wide_ok`) each on a row at the end."""
        rows: list[tuple[list[int], bool]] = []
        wide: list[tuple[list[int], bool]] = []
        for i, (_zh, _en, value, _step) in enumerate(self._shown):
            if wide_ok and cols > 1 and len(value) > WIDE_VALUE:
                wide.append(([i], True))
            elif rows and len(rows[-1][0]) < cols:
                rows[-1][0].append(i)
            else:
                rows.append(([i], False))
        return rows + wide

    def _lay_out(self) -> None:
        box = self.ids.rows
        cols = 1 if self.app.portrait else 2
        room = box.height if box.height > 1 else self.app.tap * 4.8
        groups = self._groups(cols, wide_ok=True)
        if len(groups) * (self.app.tap + box.spacing) > room:
            groups = self._groups(cols, wide_ok=False)  # no room for a row of its own: long values wrap
        box.clear_widgets()
        for row in self._rows:
            row.clear_widgets()
        while len(self._rows) < len(groups):
            self._rows.append(BoxLayout(orientation="horizontal", size_hint_y=None))
        for i, cell in enumerate(self._cells):
            if i >= len(self._shown):
                cell.value = ""
        named: set[str] = set()
        for row, (group, wide) in zip(self._rows, groups):
            for i in group:
                zh, en, value, step = self._shown[i]
                cell = self._cell(i)
                cell.label_zh, cell.label_en, cell.value, cell.step = zh, en, value, step
                cell.tid = f"change_{step}" if step and step not in named else f"line_{i}"
                named.add(step)  # two lines of one step (purpose and party size): the first is change_<step>
                cell.value_tid = f"line_{i}_value"
                cell.disabled = not step
                row.add_widget(cell)
            if not wide and len(group) < cols:
                row.add_widget(Widget())  # a lone cell stays half wide
            box.add_widget(row)
        box.add_widget(Widget())  # what is left of the height stays below the rows
        self._laid_height = box.height
        self._size_rows()

    def _rows_resized(self, *_: Any) -> None:
        if self._shown and abs(self.ids.rows.height - self._laid_height) > 1:
            self._relayout()  # the room changed: long values may get (or lose) a row of their own
        else:
            self._size_rows()

    def _size_rows(self) -> None:
        box = self.ids.rows
        rows = [r for r in box.children if isinstance(r, BoxLayout)]
        if not rows:
            return
        gap = box.spacing
        fair = (box.height - gap * len(rows)) / len(rows)
        height = max(self.app.tap, min(self.app.tap * 1.5, fair))
        for row in rows:
            row.spacing = self.app.pad * 0.6
            row.height = height

    def change(self, step: str) -> None:
        if step and self.begin():
            self._change(step)

    def submit(self) -> None:
        if not self.busy and self.begin():
            self.busy = True
            self._submit()

    def wipe(self) -> None:
        for cell in self._cells:
            cell.value = ""
        self._shown = []
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
