"""The staff screen, opened with a staff card: alerts, devices, patrol, people in the
building (roll call), held check-ins, today's counts, and the settings. Which tabs and
actions also need the PIN is lobby.staff_access's rule; this screen only asks it.

Each tab's view (rows under column headers, and a picture: the floor plan and the
meters' sparklines, tonight's patrol timeline, the satisfaction gauge) is laid out by
kiosk/screens/staff_tabs.py from lobby.dashboard's figures on a worker thread, and
drawn here into a pool of rows (no widget is created per refresh once the pool is big
enough) and one picture widget per tab (kiosk/screens/staff_visuals.py). The tab labels
carry their counts. Actions (acknowledge, mark safe, approve, start or close the roll
call, print) go through the services on the worker (kiosk/screens/staff_actions.py).
"""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk import i18n
from kiosk.ime.keyboard import TextEntry
from kiosk.screens import staff_tabs
from kiosk.screens.staff_actions import StaffActions
from kiosk.widgets import KLabel, KScreen
from lobby.staff_access import tab_needs_pin

TABS = ("alerts", "devices", "patrol", "people", "held", "today", "settings")
REFRESH_S = 5.0
MAX_COLS = 6


class StaffRow(BoxLayout):
    """One row: a text (zh/en) or columns [(zh, en), ...] with shares `widths`; buttons on the right."""

    zh = StringProperty("")
    en = StringProperty("")
    tid = StringProperty("")
    text = StringProperty("")  # every text of the row, both languages (what tests and the probe read)
    actions = ListProperty([])
    cols = ListProperty([])
    widths = ListProperty([])
    tone = StringProperty("")  # "", ok, warn, bad, head
    content_height = NumericProperty(0)

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._labels: list[KLabel] = []
        Clock.schedule_once(lambda dt: self._fill(), 0)

    def on_actions(self, *_: Any) -> None:
        if "buttons" in self.ids:
            self.ids.buttons.show(self.actions, self._act)

    def on_cols(self, *_: Any) -> None:
        self._fill()

    def on_zh(self, *_: Any) -> None:
        self._fill()

    def on_en(self, *_: Any) -> None:
        self._fill()

    def on_widths(self, *_: Any) -> None:
        self._fill()

    def _fill(self) -> None:
        if "colbox" not in self.ids:
            return
        box, label = self.ids.colbox, self.ids.row_label
        cols = list(self.cols)[:MAX_COLS]
        if cols:
            label.zh = label.en = ""
            label.opacity = 0
            label.size_hint_x, label.width = None, 0  # the columns take the row (kv sets this only once)
            while len(self._labels) < len(cols):
                lab = KLabel(role="body" if self.tone != "head" else "small")
                lab.bind(height=self._measure)
                self._labels.append(lab)
            widths = list(self.widths) + [1.0] * (len(cols) - len(self.widths))
            for i, lab in enumerate(self._labels):
                if i < len(cols):
                    lab.zh, lab.en = cols[i]
                    lab.tid = f"{self.tid}_c{i}"
                    lab.size_hint_x = widths[i]
                    lab.bold = self.tone == "head"
                    if lab.parent is None:
                        box.add_widget(lab)
                elif lab.parent is not None:
                    box.remove_widget(lab)
                    lab.zh = lab.en = lab.tid = ""
            self.text = " | ".join(f"{zh} {en}" if zh != en else zh for zh, en in cols)
        else:
            for lab in self._labels:
                if lab.parent is not None:
                    box.remove_widget(lab)
                    lab.zh = lab.en = lab.tid = ""
            label.zh, label.en = self.zh, self.en
            label.opacity = 1
            label.size_hint_x = 1
            self.text = f"{self.zh}\n{self.en}" if self.zh != self.en else self.zh
        self._measure()

    def _measure(self, *_: Any) -> None:
        if "row_label" not in self.ids:
            return
        shown = [lab.height for lab in self._labels if lab.parent is not None]
        self.content_height = max(shown) if shown else self.ids.row_label.height

    def _act(self, value: Any) -> None:
        w = self.parent
        while w is not None and not isinstance(w, StaffScreen):
            w = w.parent
        if w is not None:
            w.act(value)


class StaffScreen(StaffActions, KScreen):
    tab = StringProperty("alerts")
    unlocked = BooleanProperty(False)
    pin_needed = BooleanProperty(False)  # this tab asks for the PIN (lobby.staff_access decides)
    pin_mask = StringProperty("")
    message_zh = StringProperty("")
    message_en = StringProperty("")
    bar = ListProperty([])  # tab-level actions
    counts = ListProperty([])  # [(tab, n)] as lobby.dashboard counted them

    def __init__(self, **kw: Any) -> None:
        super().__init__(title_key="staff.title", show_back=False, **kw)
        self._rows: list[StaffRow] = []
        self._visuals: dict[str, Any] = {}
        self._head: StaffRow | None = None  # the column headers
        self._timer: Any = None
        self.pin_entry: TextEntry | None = None
        Clock.schedule_once(lambda dt: self._draw_tabs(), 0)

    # ------------------------------------------------------------------ tabs

    def _draw_tabs(self) -> None:
        counts = dict(self.counts)
        choices = []
        for t in TABS:
            zh, en = i18n.pair(f"staff.tab.{t}")
            n = counts.get(t)
            if n:
                zh, en = f"{zh} {n}", f"{en} {n}"
            choices.append({"zh": zh, "en": en, "value": t, "tid": f"tab_{t}",
                            "style": "selected" if t == self.tab else "secondary"})
        self.ids.tabs.show(choices + [{"key": "staff.exit", "value": "exit", "tid": "staff_exit", "style": "danger"}],
                           self.choose_tab)

    def choose_tab(self, tab: str) -> None:
        if tab == "exit":
            self.app.home()
            return
        self.tab = tab
        self.message_zh = self.message_en = ""
        self._draw_tabs()
        self.load()

    def refresh(self) -> None:
        self._draw_tabs()
        self.load()
        if self._timer is None:
            self._timer = Clock.schedule_interval(lambda dt: self.load(), REFRESH_S)

    def on_leave(self, *args: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def load(self) -> None:
        if self.manager is None or self.manager.current != self.name:
            return
        self.pin_needed = tab_needs_pin(self.tab)
        if self.pin_needed and not self.unlocked:
            self._show_pin()
            self.app.worker.run(self.app.rt.dashboard.tab_counts, then=self._counts)
            self.app.event("staff_tab", tab=self.tab, rows=0, locked=True)
            return
        self._hide_pin()
        self.app.worker.run(staff_tabs.load, self.app, self.tab, then=self._show)

    def _counts(self, counts: dict[str, int]) -> None:
        if sorted(counts.items()) != list(self.counts):
            self.counts = sorted(counts.items())
            self._draw_tabs()

    def _show(self, data: tuple[staff_tabs.TabView, dict[str, int]]) -> None:
        view, counts = data
        if self.pin_needed and not self.unlocked:
            return  # locked again while the worker read
        self._counts(counts)
        self.bar = view.bar
        self.ids.bar.show(view.bar, self.act)
        self._show_head(view)
        self._show_visual(view.visual)
        box = self.ids.rows
        while len(self._rows) < len(view.rows):
            self._rows.append(StaffRow())
        for i, row in enumerate(self._rows):
            if i < len(view.rows):
                spec = view.rows[i]
                row.tid = spec.get("tid", f"row_{i}")
                row.tone = spec.get("tone", "")
                row.widths = view.widths if spec.get("cols") else []
                row.zh, row.en = spec.get("zh", ""), spec.get("en", "")
                row.cols = spec.get("cols", [])
                row.actions = spec.get("actions", [])
                if row.parent is None:
                    box.add_widget(row)
            elif row.parent is not None:
                box.remove_widget(row)
                row.zh = row.en = ""
                row.cols = []
                row.actions = []
        self.app.event("staff_tab", tab=self.tab, rows=len(view.rows))

    def _show_head(self, view: staff_tabs.TabView) -> None:
        holder = self.ids.head_holder
        if self._head is None:
            self._head = StaffRow(tone="head")
        head = self._head
        if not view.head:
            holder.clear_widgets()
            head.cols = []
            return
        head.tid = f"{self.tab}_head"
        head.widths = view.widths
        head.cols = view.head
        if head.parent is None:
            holder.add_widget(head)

    def _show_visual(self, spec: dict[str, Any]) -> None:
        from kiosk.screens.staff_visuals import make_visual

        holder = self.ids.visual
        kind = spec.get("kind", "")
        holder.clear_widgets()
        if not kind:
            return
        if kind not in self._visuals:
            self._visuals[kind] = make_visual(kind, self.app.font_file or "Roboto")
        visual = self._visuals[kind]
        visual.show(spec)
        holder.add_widget(visual)

    def _clear_rows(self) -> None:
        for row in self._rows:
            if row.parent is not None:
                row.parent.remove_widget(row)
        self.ids.visual.clear_widgets()
        self.ids.head_holder.clear_widgets()

    # ------------------------------------------------------------------ PIN

    def _show_pin(self) -> None:
        self.ids.bar.show([], self.act)
        self._clear_rows()
        if self.pin_entry is None:
            self.pin_entry = TextEntry(kind="pin", max_length=12)  # digits only: no "+" on the pad
            self.pin_entry.bind(on_change=lambda e: setattr(self, "pin_mask", "●" * len(e.text)))
        self.app.keyboard.attach(self, self.ids.pin_holder, self.pin_entry, on_submit=self.check_pin,
                                 candidates=False)
        if not self.app.cfg.security.staff_pin_hash:
            self.message_zh, self.message_en = i18n.pair("staff.pin.unset")
        locked = self.app.rt.pin.locked_minutes()
        if locked:
            self.message_zh, self.message_en = i18n.pair("staff.pin.locked", n=locked)

    def _hide_pin(self) -> None:
        self.app.keyboard.detach(self)
        self._clear_pin()

    def _clear_pin(self) -> None:
        if self.pin_entry is not None:
            self.pin_entry.clear()
        self.pin_mask = ""

    def check_pin(self) -> None:
        if self.pin_entry is None:
            return
        pin = self.pin_entry.text
        self._clear_pin()
        self.app.worker.run(self.app.rt.pin.check, pin, then=self._pin_result)

    def _pin_result(self, result: Any) -> None:
        if result.ok:
            self.unlocked = True
            self.message_zh = self.message_en = ""
            self.load()
        elif result.status == "locked":
            self.message_zh, self.message_en = i18n.pair("staff.pin.locked", n=result.locked_min)
        elif result.status == "unset":
            self.message_zh, self.message_en = i18n.pair("staff.pin.unset")
        else:
            self.message_zh, self.message_en = i18n.pair("staff.pin.wrong", n=result.attempts_left)
        self.app.event("pin", status=result.status)

    def wipe(self) -> None:
        self.unlocked = False
        self.tab = "alerts"
        self.message_zh = self.message_en = ""
        self._hide_pin()
        self.pin_entry = None
        for row in self._rows:
            row.zh = row.en = ""
            row.cols = []
            row.actions = []
