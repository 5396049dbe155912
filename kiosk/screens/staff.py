"""The staff screen, opened with a staff card: alerts, devices, patrol, people in the
building (roll call), held check-ins, today's counts, and the settings. Which tabs and
actions also need the PIN is lobby.staff_access's rule; this screen only asks it.

Every tab's data is read on a worker thread and drawn into a pool of rows (no widget
is created per refresh once the pool is big enough). Actions (acknowledge, mark safe,
approve, start or close the roll call, print) go through the services on the worker.
"""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.properties import BooleanProperty, ListProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk import i18n
from kiosk.ime.keyboard import TextEntry
from kiosk.widgets import KScreen
from lobby.staff_access import action_needs_pin, tab_needs_pin

TABS = ("alerts", "devices", "patrol", "people", "held", "today", "settings")
REFRESH_S = 5.0
SEVERITY = {"critical": ("严重", "Critical"), "warning": ("警告", "Warning"), "info": ("提示", "Info")}


def _state(state: str) -> tuple[str, str]:
    return i18n.pair(f"staff.state.{state}") if f"staff.state.{state}" in i18n.STRINGS else (state, state)


def _local(ctx: Any, ts: str | None) -> str:
    if not ts:
        return ""
    try:
        return ctx.local(ts).strftime("%m-%d %H:%M")
    except (ValueError, TypeError):
        return ""


class StaffRow(BoxLayout):
    zh = StringProperty("")
    en = StringProperty("")
    tid = StringProperty("")
    actions = ListProperty([])
    tone = StringProperty("")  # "", ok, warn, bad

    def on_actions(self, *_: Any) -> None:
        if "buttons" in self.ids:
            self.ids.buttons.show(self.actions, self._act)

    def _act(self, value: Any) -> None:
        screen = self.parent_screen()
        if screen is not None:
            screen.act(value)

    def parent_screen(self) -> Any:
        w = self.parent
        while w is not None and not isinstance(w, StaffScreen):
            w = w.parent
        return w


class StaffScreen(KScreen):
    tab = StringProperty("alerts")
    unlocked = BooleanProperty(False)
    pin_needed = BooleanProperty(False)  # this tab asks for the PIN (lobby.staff_access decides)
    pin_mask = StringProperty("")
    message_zh = StringProperty("")
    message_en = StringProperty("")
    bar = ListProperty([])  # tab-level actions

    def __init__(self, **kw: Any) -> None:
        super().__init__(title_key="staff.title", show_back=False, **kw)
        self._rows: list[StaffRow] = []
        self._timer: Any = None
        self.pin_entry: TextEntry | None = None
        Clock.schedule_once(lambda dt: self._draw_tabs(), 0)

    # ------------------------------------------------------------------ tabs

    def _draw_tabs(self) -> None:
        self.ids.tabs.show([{"key": f"staff.tab.{t}", "value": t, "tid": f"tab_{t}",
                             "style": "selected" if t == self.tab else "secondary"} for t in TABS]
                           + [{"key": "staff.exit", "value": "exit", "tid": "staff_exit", "style": "danger"}],
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
            self.app.event("staff_tab", tab=self.tab, rows=0, locked=True)
            return
        self._hide_pin()
        self.app.worker.run(getattr(self, f"_data_{self.tab}"), then=self._show)

    def _show(self, data: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
        rows, bar = data
        self.bar = bar
        self.ids.bar.show(bar, self.act)
        box = self.ids.rows
        while len(self._rows) < len(rows):
            self._rows.append(StaffRow())
        for i, row in enumerate(self._rows):
            if i < len(rows):
                spec = rows[i]
                row.zh, row.en = spec.get("zh", ""), spec.get("en", "")
                row.tone = spec.get("tone", "")
                row.tid = spec.get("tid", f"row_{i}")
                row.actions = spec.get("actions", [])
                if row.parent is None:
                    box.add_widget(row)
            elif row.parent is not None:
                box.remove_widget(row)
                row.zh = row.en = ""
                row.actions = []
        self.app.event("staff_tab", tab=self.tab, rows=len(rows))

    # ------------------------------------------------------------------ data (worker thread)

    def _data_alerts(self) -> Any:
        rows = []
        ctx = self.app.services.ctx
        for a in self.app.rt.dashboard.active_alerts():
            sev = SEVERITY.get(a["severity"], (a["severity"], a["severity"]))
            state = i18n.pair("staff.active" if a["state"] == "active" else "staff.cleared")
            when = _local(ctx, a["last_seen"])
            # the title is already bilingual (alerts are raised as "中文 English"): one line, both languages
            text = f"[{sev[0]} {sev[1]}] {a['title']} · {state[0]} {state[1]} · {when} · ×{a['count']}"
            text_zh = text_en = text
            actions = [] if a["acked"] else [{"key": "staff.ack", "value": ("ack", a["key"]), "style": "primary",
                                              "tid": f"ack_{len(rows)}"}]
            if a["acked"]:
                done = i18n.pair("staff.acked")
                text_zh = text_en = f"{text} · {done[0]} {done[1]}"
            rows.append({"zh": text_zh, "en": text_en, "actions": actions, "tid": f"alert_{len(rows)}",
                         "tone": "bad" if a["severity"] == "critical" else "warn"})
        if not rows:
            rows.append({**dict(zip(("zh", "en"), i18n.pair("staff.no_alerts"))), "tid": "no_alerts"})
        return rows, []

    def _data_devices(self) -> Any:
        view = self.app.rt.dashboard.devices()
        rows = []

        def device_row(name_zh: str, name_en: str, state: str, reason: str, tid: str) -> None:
            s = _state(state)
            tone = "ok" if state in ("ok", "up") else ("warn" if state in ("degraded", "unknown") else "bad")
            extra = f" — {reason}" if reason else ""
            rows.append({"zh": f"{name_zh}：{s[0]}{extra}", "en": f"{name_en}: {s[1]}{extra}", "tid": tid,
                         "tone": tone})

        for i, d in enumerate(view.kiosk):
            label = i18n.pair("staff.dev.printer") if d.device_id == "badge-printer" else \
                i18n.pair("staff.dev.kiosk_reader")
            device_row(f"{label[0]} {d.device_id}", f"{label[1]} {d.device_id}", d.state.value, d.reason,
                       f"dev_kiosk_{i}")
        b = i18n.pair("staff.dev.broker")
        device_row(b[0], b[1], view.link, "", "dev_broker")
        o = i18n.pair("staff.dev.outbox")
        rows.append({"zh": f"{o[0]}：紧急 {view.outbox_critical} · 数据 {view.outbox_bulk}",
                     "en": f"{o[1]}: critical {view.outbox_critical} · bulk {view.outbox_bulk}", "tid": "dev_outbox",
                     "tone": "ok" if view.outbox_critical < 50 else "warn"})
        if view.gateway_report_ts is None:
            rows.append({**dict(zip(("zh", "en"), i18n.pair("staff.dev.no_report"))), "tid": "dev_gateway",
                         "tone": "warn"})
        else:
            age = i18n.pair("staff.dev.report_age")
            when = _local(self.app.services.ctx, view.gateway_report_ts)
            rows.append({"zh": f"{i18n.pair('staff.dev.gateway')[0]}：{age[0]} {when}",
                         "en": f"{i18n.pair('staff.dev.gateway')[1]}: {age[1]} {when}", "tid": "dev_gateway"})
            for i, d in enumerate(view.gateway):
                device_row(d.device_id, d.device_id, d.state, d.reason, f"dev_gw_{i}")
        return rows, []

    def _data_patrol(self) -> Any:
        """Tonight's rounds (the dashboard decides which days make up the night)."""
        dashboard = self.app.rt.dashboard
        nights = dashboard.tonight_rounds()
        if nights is None:
            return [{**dict(zip(("zh", "en"), i18n.pair("staff.patrol.none"))), "tid": "patrol_none"}], []
        names = dashboard.route_names()
        rows: list[dict[str, Any]] = []
        for day, report in nights:
            r = report["rounds"]
            summary = i18n.pair("staff.patrol.summary", **{k: r.get(k, 0) for k in
                                                            ("planned", "completed", "abandoned", "not_started",
                                                             "open")})
            missed = i18n.pair("staff.patrol.missed", n=report["points"].get("missed", 0))
            rows.append({"zh": f"{day:%m-%d}  {summary[0]}\n{missed[0]}", "en": f"{day:%m-%d}  {summary[1]}\n{missed[1]}",
                         "tid": f"patrol_summary_{len(rows)}",
                         "tone": "warn" if report["points"].get("missed") else "ok"})
            for rd in report["round_list"]:
                when = rd["started"] or rd["planned"] or ""
                text = f"{names.get(rd['route_id'], rd['route_id'])} {when} · {rd['visited']}/{rd['points']}"
                state = rd["outcome"] or rd["state"]
                key = f"staff.round.{state}"
                sz, se = i18n.pair(key) if key in i18n.STRINGS else (state, state)
                rows.append({"zh": f"{text} · {sz}", "en": f"{text} · {se}", "tid": f"round_{len(rows)}",
                             "tone": "bad" if rd["missed"] else ("ok" if rd["outcome"] == "completed" else "")})
        return rows, []

    def _data_people(self) -> Any:
        svc = self.app.services.rollcall
        roll = svc.current()
        rows = []
        if roll is not None:
            head = (f"疏散点名：共{roll.total}人，已确认安全{roll.safe}人，未确认{roll.unaccounted}人",
                    f"Roll call: {roll.total} people, {roll.safe} safe, {roll.unaccounted} unaccounted")
            rows.append({"zh": head[0], "en": head[1], "tid": "roll_summary", "tone": "bad"})
            flag = svc.stale_flag()
            for i, e in enumerate(roll.entries):
                text = f"{e.name or '-'} · {e.party_size} · {e.host_unit} · {e.checked_in:%m-%d %H:%M}"
                text += f" · {flag[0]} {flag[1]}" if e.stale else ""
                action = ({"key": "staff.people.unsafe", "value": ("unsafe", e.visit_id), "style": "secondary",
                           "tid": f"unsafe_{i}"} if e.all_safe else
                          {"key": "staff.people.safe", "value": ("safe", e.visit_id), "style": "ok", "tid": f"safe_{i}"})
                rows.append({"zh": text, "en": text, "actions": [action], "tid": f"person_{i}",
                             "tone": "ok" if e.all_safe else ("warn" if e.stale else "")})
            bar = [{"key": "staff.evac.close", "value": ("close_roll",), "style": "danger", "tid": "evac_close"},
                   {"key": "staff.evac.print", "value": ("print_roll",), "style": "secondary", "tid": "evac_print"}]
            return rows, bar
        count = svc.in_building()
        flag = svc.stale_flag()
        c = i18n.pair("staff.people.count", n=count.people)
        rows.append({"zh": c[0], "en": c[1], "tid": "people_count"})
        for i, p in enumerate(count.visitors):
            held = "（待审核）" if p.held else ""
            text = f"{p.name or '-'}{held} · {p.party_size} · {p.host_unit} · {p.checked_in:%m-%d %H:%M} · {p.pass_no or ''}"
            text += f" · {flag[0]} {flag[1]}" if p.stale else ""
            rows.append({"zh": text, "en": text, "tid": f"person_{i}", "tone": "warn" if p.stale else ""})
        if not count.visitors:
            rows.append({**dict(zip(("zh", "en"), i18n.pair("staff.people.none"))), "tid": "people_none"})
        bar = [{"key": "staff.evac.start", "value": ("start_roll",), "style": "danger", "tid": "evac_start"},
               {"key": "staff.evac.print", "value": ("print_roll",), "style": "secondary", "tid": "evac_print"}]
        return rows, bar

    def _data_held(self) -> Any:
        rows = []
        for i, v in enumerate(self.app.services.visitors.held()):
            text = f"{v.name or v.masked_name} · {v.masked_phone} · {v.host.label} · {v.party_size} · {v.checked_in:%H:%M}"
            rows.append({"zh": text, "en": text, "tid": f"held_{i}", "tone": "warn",
                         "actions": [{"key": "staff.held.approve", "value": ("approve", v.visit_id), "style": "ok",
                                      "tid": f"approve_{i}"},
                                     {"key": "staff.held.deny", "value": ("deny", v.visit_id), "style": "danger",
                                      "tid": f"deny_{i}"}]})
        if not rows:
            rows.append({**dict(zip(("zh", "en"), i18n.pair("staff.held.none"))), "tid": "held_none"})
        return rows, []

    def _data_today(self) -> Any:
        counts = self.app.rt.dashboard.today()
        sat = counts.satisfaction

        def row(key: str, value: Any, tid: str) -> dict[str, Any]:
            zh, en = i18n.pair(key)
            return {"zh": f"{zh}：{value}", "en": f"{en}: {value}", "tid": tid}

        pct = "-" if sat is None or sat.pct is None else f"{sat.pct}% / {sat.target_pct}%"
        lines = [{"zh": zh, "en": en, "tid": tid} for tid, zh, en in counts.lines]  # KPIs, survey, duty
        return [row("staff.today.visits", f"{counts.visits} ({counts.people})", "today_visits"),
                row("staff.today.in", counts.in_building, "today_in"),
                row("staff.today.out", counts.checked_out, "today_out"),
                row("staff.today.tickets", counts.tickets, "today_tickets"),
                row("staff.today.open", counts.open_tickets, "today_open"),
                row("staff.today.feedback", sat.counted if sat else 0, "today_feedback"),
                row("staff.today.satisfaction", pct, "today_satisfaction"), *lines], []

    def _data_settings(self) -> Any:
        from mqtt_bridge.version import VERSION

        cfg = self.app.cfg
        info = i18n.pair("staff.settings.info")
        rows = [{"zh": f"{info[0]}：{cfg.site.name} · {cfg.site.gateway_id} · v{VERSION} · 配置 {cfg.version}",
                 "en": f"{info[1]}: {cfg.site.name} · {cfg.site.gateway_id} · v{VERSION} · config {cfg.version}",
                 "tid": "settings_info"}]
        printer = self.app.rt.printer
        if printer is not None:
            held = i18n.pair("staff.settings.held_jobs", n=len(printer.held_jobs))
            rows.append({"zh": held[0], "en": held[1], "tid": "settings_held"})
        bar = [{"key": "staff.settings.reprint", "value": ("reprint",), "style": "primary", "tid": "reprint"},
               {"key": "staff.settings.print_people", "value": ("print_roll",), "style": "secondary",
                "tid": "print_people"},
               {"key": "staff.settings.lock", "value": ("lock",), "style": "secondary", "tid": "lock"}]
        return rows, bar

    # ------------------------------------------------------------------ actions

    def act(self, value: Any) -> None:
        if not isinstance(value, tuple):
            return
        what, *args = value
        if action_needs_pin(what) and not self.unlocked and what != "lock":
            self.load()  # the PIN pad instead
            return
        staff = (self.app.staff_id or "staff")[:64]
        svc = self.app.services
        worker = self.app.worker
        if what == "ack":
            worker.run(self.app.rt.alerts.ack, args[0], f"kiosk:{staff}", then=lambda _r: self.load())
        elif what == "safe":
            worker.run(svc.rollcall.mark_safe, args[0], True, None, staff, then=self._outcome)
        elif what == "unsafe":
            worker.run(svc.rollcall.mark_safe, args[0], False, None, staff, then=self._outcome)
        elif what == "start_roll":
            def confirmed(choice: Any) -> None:
                if choice == "start":
                    worker.run(svc.rollcall.start, "staff", "", False, then=self._outcome)

            self.app.say(i18n_message("staff.evac.confirm_start"), title_key="staff.evac.start", style="error",
                         seconds=0, tid="confirm_evac", on_action=confirmed,
                         actions=[{"key": "staff.evac.start", "value": "start", "style": "primary",
                                   "tid": "evac_confirm"},
                                  {"key": "common.back", "value": "cancel", "style": "secondary",
                                   "tid": "evac_cancel"}])
        elif what == "close_roll":
            worker.run(svc.rollcall.close, staff, then=self._outcome)
        elif what == "print_roll":
            worker.run(svc.rollcall.print, then=self._outcome)
        elif what == "approve":
            worker.run(svc.visitors.approve, args[0], staff, then=self._outcome)
        elif what == "deny":
            worker.run(svc.visitors.deny, args[0], staff, then=self._outcome)
        elif what == "reprint":
            printer = self.app.rt.printer
            if printer is not None:
                worker.run(printer.reprint_held, then=lambda _r: self.load())
        elif what == "lock":
            self.unlocked = False
            self.load()

    def _outcome(self, outcome: Any) -> None:
        self.message_zh, self.message_en = outcome.message.zh, outcome.message.en
        self.load()
        self.app._poll_evacuation()

    # ------------------------------------------------------------------ PIN

    def _show_pin(self) -> None:
        self.ids.bar.show([], self.act)
        for row in self._rows:
            if row.parent is not None:
                row.parent.remove_widget(row)
        if self.pin_entry is None:
            self.pin_entry = TextEntry(kind="phone", max_length=12)
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
            row.actions = []


def i18n_message(key: str) -> Any:
    from lobby.services import Message

    zh, en = i18n.pair(key)
    return Message(key, zh, en)
