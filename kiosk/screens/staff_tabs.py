"""What each tab of the staff screen shows, as rows, column headers and a picture (worker thread).

Every figure comes from lobby.dashboard (or the services); this module only lays the
answers out: one function per tab returns a `TabView`. Rows are dicts for the pooled
StaffRow widgets: `cols` [(zh, en), ...] under the tab's `head`, or one `zh`/`en` text,
with `tid`, `tone` ("", ok, warn, bad, head) and `actions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiosk import i18n

SEVERITY = {"critical": ("严重", "Critical"), "warning": ("警告", "Warning"), "info": ("提示", "Info")}


@dataclass
class TabView:
    rows: list[dict[str, Any]]
    bar: list[dict[str, Any]] = field(default_factory=list)  # tab-level actions
    head: list[tuple[str, str]] = field(default_factory=list)  # column headers
    widths: list[float] = field(default_factory=list)  # column shares
    visual: dict[str, Any] = field(default_factory=dict)  # {"kind": "devices" | "patrol" | "today", ...}


def _state(state: str) -> tuple[str, str]:
    return i18n.pair(f"staff.state.{state}") if f"staff.state.{state}" in i18n.STRINGS else (state, state)


def _local(ctx: Any, ts: str | None) -> str:
    if not ts:
        return ""
    try:
        return ctx.local(ts).strftime("%m-%d %H:%M")
    except (ValueError, TypeError):
        return ""


def _one(key: str, tid: str, **more: Any) -> dict[str, Any]:
    zh, en = i18n.pair(key)
    return {"zh": zh, "en": en, "tid": tid, **more}


def _same(text: Any) -> tuple[str, str]:
    return str(text), str(text)


def alerts(app: Any) -> TabView:
    ctx = app.services.ctx
    rows = []
    for i, a in enumerate(app.rt.dashboard.alert_rows()):
        state = i18n.pair("staff.active" if a.active else "staff.cleared")
        if a.acked:
            done = i18n.pair("staff.acked")
            state = (f"{state[0]} · {done[0]}", f"{state[1]} · {done[1]}")
        actions = [] if a.acked else [{"key": "staff.ack", "value": ("ack", a.key), "style": "primary",
                                       "tid": f"ack_{i}"}]
        rows.append({"cols": [SEVERITY.get(a.severity, _same(a.severity)), (a.title_zh, a.title_en), state,
                              _same(_local(ctx, a.last_seen)), _same(f"×{a.count}")],
                     "actions": actions, "tid": f"alert_{i}", "tone": "bad" if a.severity == "critical" else "warn"})
    if not rows:
        return TabView([_one("staff.no_alerts", "no_alerts")])
    return TabView(rows, head=[i18n.pair(f"staff.col.{c}") for c in ("level", "alert", "state", "last", "times")],
                   widths=[1.1, 2.6, 1.4, 1.5, 0.8])


def devices(app: Any) -> TabView:
    dash = app.rt.dashboard
    view = dash.devices()
    rows = []

    def device_row(name: tuple[str, str], state: str, reason: str, tid: str) -> None:
        s = _state(state)
        tone = "ok" if state in ("ok", "up") else ("warn" if state in ("degraded", "unknown") else "bad")
        rows.append({"cols": [name, s, _same(reason or "")], "tid": tid, "tone": tone})

    for i, d in enumerate(view.kiosk):
        label = i18n.pair("staff.dev.printer" if d.device_id == "badge-printer" else "staff.dev.kiosk_reader")
        device_row((f"{label[0]} {d.device_id}", f"{label[1]} {d.device_id}"), d.state.value, d.reason,
                   f"dev_kiosk_{i}")
    device_row(i18n.pair("staff.dev.broker"), view.link, "", "dev_broker")
    o = i18n.pair("staff.dev.outbox")
    rows.append({"cols": [o, (f"紧急 {view.outbox_critical}，数据 {view.outbox_bulk}",
                              f"critical {view.outbox_critical}, bulk {view.outbox_bulk}"), ("", "")],
                 "tid": "dev_outbox", "tone": "ok" if view.outbox_critical < 50 else "warn"})
    g = i18n.pair("staff.dev.gateway")
    if view.gateway_report_ts is None:
        rows.append({"cols": [g, i18n.pair("staff.dev.no_report"), ("", "")], "tid": "dev_gateway", "tone": "warn"})
    else:
        age = i18n.pair("staff.dev.report_age")
        when = _local(app.services.ctx, view.gateway_report_ts)
        rows.append({"cols": [g, (f"{age[0]} {when}", f"{age[1]} {when}"), ("", "")], "tid": "dev_gateway"})
        for i, d in enumerate(view.gateway):
            device_row(_same(d.device_id), d.state, d.reason, f"dev_gw_{i}")
    return TabView(rows, head=[i18n.pair(f"staff.col.{c}") for c in ("device", "state", "reason")],
                   widths=[2.2, 1.6, 2.2],
                   visual={"kind": "devices", "plan": dash.floor_plan(), "meters": dash.meter_series()})


def patrol(app: Any) -> TabView:
    """Tonight as a timeline against the due windows, and counts that add up (see PatrolNight)."""
    dash = app.rt.dashboard
    night = dash.patrol_night()
    if night is None:
        return TabView([_one("staff.patrol.none", "patrol_none")])
    names = dash.route_names()
    c = night.counts
    total = i18n.pair("staff.patrol.total", **c)
    parts = i18n.pair("staff.patrol.parts", **c)
    rows: list[dict[str, Any]] = [
        {"zh": f"{total[0]}\n{parts[0]}", "en": f"{total[1]}\n{parts[1]}", "tid": "patrol_summary_0",
         "tone": "warn" if c["abandoned"] or c["not_started"] else "ok"}]
    start = night.start
    for i, rd in enumerate(night.rounds):
        def clock(h: float | None) -> str:
            if h is None:
                return "-"
            import datetime as dt

            return (start + dt.timedelta(hours=h)).strftime("%H:%M")

        key = f"staff.round.{rd.state}"
        state = i18n.pair(key) if key in i18n.STRINGS else _same(rd.state)
        window = "-" if rd.window is None else f"{clock(rd.window[0])}–{clock(rd.window[1])}"
        name = names.get(rd.route, rd.route)
        zh_name, en_name = (name.split(" ", 1) + [name])[:2] if " " in name else (name, name)
        rows.append({"cols": [(zh_name, en_name), _same(window), _same(clock(rd.started)), state,
                              _same(f"{rd.visited}/{rd.points}" if rd.points else "-")],
                     "tid": f"round_{i}",
                     "tone": "bad" if rd.state in ("abandoned", "not_started") else
                     ("ok" if rd.state == "completed" else "")})
    return TabView(rows, head=[i18n.pair(f"staff.col.{c}") for c in ("route", "window", "started", "state",
                                                                       "points")],
                   widths=[2.0, 1.8, 1.1, 1.4, 0.9], visual={"kind": "patrol", "night": night})


def people(app: Any) -> TabView:
    svc = app.services.rollcall
    roll = svc.current()
    head = [i18n.pair(f"staff.col.{c}") for c in ("name", "party", "host", "in_at")]
    widths = [2.0, 0.9, 1.6, 1.5]
    flag = svc.stale_flag()
    rows = []
    if roll is not None:
        s = i18n.pair("staff.roll.summary", total=roll.total, safe=roll.safe, open=roll.unaccounted)
        rows.append({"zh": s[0], "en": s[1], "tid": "roll_summary", "tone": "bad"})
        for i, e in enumerate(roll.entries):
            name = (e.name or "-") + (f" · {flag[0]}" if e.stale else "")
            action = ({"key": "staff.people.unsafe", "value": ("unsafe", e.visit_id), "style": "secondary",
                       "tid": f"unsafe_{i}"} if e.all_safe else
                      {"key": "staff.people.safe", "value": ("safe", e.visit_id), "style": "ok", "tid": f"safe_{i}"})
            rows.append({"cols": [_same(name), _same(e.party_size), _same(e.host_unit),
                                  _same(f"{e.checked_in:%m-%d %H:%M}")], "actions": [action], "tid": f"person_{i}",
                         "tone": "ok" if e.all_safe else ("warn" if e.stale else "")})
        bar = [{"key": "staff.evac.close", "value": ("close_roll",), "style": "danger", "tid": "evac_close"},
               {"key": "staff.evac.print", "value": ("print_roll",), "style": "secondary", "tid": "evac_print"}]
        return TabView(rows, bar, head, widths)
    count = svc.in_building()
    c = i18n.plural_pair("staff.people.count", count.people)
    rows.append({"zh": c[0], "en": c[1], "tid": "people_count"})
    for i, p in enumerate(count.visitors):
        name = (p.name or "-") + ("（待审核）" if p.held else "") + (f" · {flag[0]}" if p.stale else "")
        rows.append({"cols": [_same(name), _same(p.party_size), _same(p.host_unit),
                              _same(f"{p.checked_in:%m-%d %H:%M}")], "tid": f"person_{i}",
                     "tone": "warn" if p.stale else ""})
    if not count.visitors:
        rows.append(_one("staff.people.none", "people_none"))
        head = []
    bar = [{"key": "staff.evac.start", "value": ("start_roll",), "style": "danger", "tid": "evac_start"},
           {"key": "staff.evac.print", "value": ("print_roll",), "style": "secondary", "tid": "evac_print"}]
    return TabView(rows, bar, head, widths)


def held(app: Any) -> TabView:
    rows = []
    for i, v in enumerate(app.services.visitors.held()):
        rows.append({"cols": [_same(v.name or v.masked_name), _same(v.masked_phone), _same(v.host.label),
                              _same(f"{v.party_size} · {v.checked_in:%H:%M}")], "tid": f"held_{i}", "tone": "warn",
                     "actions": [{"key": "staff.held.approve", "value": ("approve", v.visit_id), "style": "ok",
                                  "tid": f"approve_{i}"},
                                 {"key": "staff.held.deny", "value": ("deny", v.visit_id), "style": "danger",
                                  "tid": f"deny_{i}"}]})
    if not rows:
        return TabView([_one("staff.held.none", "held_none")])
    return TabView(rows, head=[i18n.pair(f"staff.col.{c}") for c in ("name", "phone", "host", "party_at")],
                   widths=[1.6, 1.5, 1.6, 1.2])


def today(app: Any) -> TabView:
    counts = app.rt.dashboard.today()
    sat = counts.satisfaction

    def row(key: str, value: Any, tid: str) -> dict[str, Any]:
        return {"cols": [i18n.pair(key), _same(value)], "tid": tid}

    pct = "-" if sat is None or sat.pct is None else f"{sat.pct}% / {sat.target_pct}%"
    lines = [{"zh": zh, "en": en, "tid": tid} for tid, zh, en in counts.lines]  # KPIs, survey, duty
    rows = [row("staff.today.visits", f"{counts.visits} ({counts.people})", "today_visits"),
            row("staff.today.in", counts.in_building, "today_in"),
            row("staff.today.out", counts.checked_out, "today_out"),
            row("staff.today.tickets", counts.tickets, "today_tickets"),
            row("staff.today.open", counts.open_tickets, "today_open"),
            row("staff.today.feedback", sat.counted if sat else 0, "today_feedback"),
            row("staff.today.satisfaction", pct, "today_satisfaction"), *lines]
    return TabView(rows, head=[i18n.pair("staff.col.figure"), i18n.pair("staff.col.value")], widths=[3.0, 1.4],
                   visual={"kind": "today", "pct": None if sat is None else sat.pct,
                           "target": 85 if sat is None else sat.target_pct,
                           "counted": 0 if sat is None else sat.counted})


def settings(app: Any) -> TabView:
    from mqtt_bridge.version import VERSION

    cfg = app.cfg
    info = i18n.pair("staff.settings.info")
    rows = [{"zh": f"{info[0]}：{cfg.site.name} · {cfg.site.gateway_id} · v{VERSION} · 配置 {cfg.version}",
             "en": f"{info[1]}: {cfg.site.name} · {cfg.site.gateway_id} · v{VERSION} · config {cfg.version}",
             "tid": "settings_info"}]
    printer = app.rt.printer
    if printer is not None:
        held_jobs = i18n.pair("staff.settings.held_jobs", n=len(printer.held_jobs))
        rows.append({"zh": held_jobs[0], "en": held_jobs[1], "tid": "settings_held"})
    bar = [{"key": "staff.settings.reprint", "value": ("reprint",), "style": "primary", "tid": "reprint"},
           {"key": "staff.settings.print_people", "value": ("print_roll",), "style": "secondary",
            "tid": "print_people"},
           {"key": "staff.settings.lock", "value": ("lock",), "style": "secondary", "tid": "lock"}]
    return TabView(rows, bar)


TABS = {"alerts": alerts, "devices": devices, "patrol": patrol, "people": people, "held": held, "today": today,
        "settings": settings}


def load(app: Any, tab: str) -> tuple[TabView, dict[str, int]]:
    """The tab's view and the counts on every tab's label (one worker call)."""
    view = TABS[tab](app)
    try:
        counts = app.rt.dashboard.tab_counts()
    except Exception:  # a count is a nicety: never lose the tab for it
        import logging

        logging.getLogger(__name__).exception("staff tab counts")
        counts = {}
    return view, counts
