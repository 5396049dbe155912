"""What the staff screen shows, decided here: alerts, devices and the link, tonight's rounds, today's counts.

The screen only draws these answers. Reads only (the actions go through the services).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drivers.health import DeviceHealth
from lobby.services import LobbyServices, Satisfaction
from mqtt_bridge.alerts import AlertEngine
from mqtt_bridge.clock import parse_ts
from mqtt_bridge.store import Lane, StoreError
from mqtt_bridge.store.outbox import depth

NIGHT_ENDS_AT_HOUR = 12  # before noon, tonight's rounds began yesterday evening


@dataclass(frozen=True)
class GatewayDevice:
    device_id: str
    state: str  # ok, degraded, lost, unknown
    reason: str = ""


@dataclass(frozen=True)
class DevicesView:
    kiosk: list[DeviceHealth]  # this kiosk's readers and printer
    link: str  # up, down, unknown: the bridge's link to central
    outbox_critical: int
    outbox_bulk: int
    gateway_report_ts: str | None  # the gateway's last health report (None: never seen)
    gateway: list[GatewayDevice] = field(default_factory=list)


@dataclass(frozen=True)
class TodayCounts:
    day: str
    visits: int  # check-ins today (held ones included)
    people: int  # party sizes of today's visits
    in_building: int  # visits of today still in
    checked_out: int
    tickets: int  # created today
    open_tickets: int  # any day, not closed
    satisfaction: Satisfaction | None = None  # the lobby's faces today (not the survey)
    lines: list[tuple[str, str, str]] = field(default_factory=list)  # (tid, zh, en): KPIs, the survey, the duty


def kpi_lines(services: LobbyServices, day: str) -> list[tuple[str, str, str]]:
    """设施设备完好率 yesterday and today, the latest satisfaction survey, the shift on duty."""
    from lobby.gateway.facility_kpi import FacilityKpi
    from lobby.services.shifts import duty

    ctx = services.ctx
    lines = []
    facilities = FacilityKpi(ctx.cfg, ctx.store)
    yesterday = (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat()
    for tid, label_zh, label_en, when in (("kpi_facility_yesterday", "昨日", "yesterday", yesterday),
                                          ("kpi_facility_today", "今日至今", "today so far", day)):
        f = facilities.figures("day", when)
        if f["good_order_pct"] is not None:
            lines.append((tid, f"设施设备完好率（{label_zh}）：{f['good_order_pct']}%（{f['in_good_order']}/{f['inventory']}台，"
                               f"目标{f['target_pct']:g}%）",
                          f"Facilities in good order ({label_en}): {f['good_order_pct']}% ({f['in_good_order']} of "
                          f"{f['inventory']}, target {f['target_pct']:g}%)"))
    survey = services.surveys.latest()
    if survey is not None:
        lines.append(("kpi_survey", f"满意度调查 {survey.survey_id}：满意 {survey.satisfaction_pct}%（目标{survey.satisfaction_target_pct:g}%）"
                                    f" · 回收 {survey.return_pct}%（目标{survey.return_target_pct:g}%，{survey.return_due}前）",
                      f"Satisfaction survey {survey.survey_id}: {survey.satisfaction_pct}% satisfied (target "
                      f"{survey.satisfaction_target_pct:g}%) · returned {survey.return_pct}% (target "
                      f"{survey.return_target_pct:g}% by {survey.return_due})"))
    on_duty = duty(ctx, ctx.now())
    if on_duty is not None:
        lines.append(("duty", *on_duty.text()))
    return lines


# ====================================================================== figures for the staff screen's pictures
#
# The staff screen draws these; every number on it is decided here.

SLOT_MIN = 15  # meter_slots (lobby/meters/recorder.py): one odometer per meter per 15 minutes
SLOTS_PER_DAY = 24 * 60 // SLOT_MIN
NIGHT_FROM_HOUR = 18  # the patrol timeline runs from 18:00 ...
NIGHT_HOURS = 14  # ... to 08:00 the next morning
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def split_title(title: str) -> tuple[str, str]:
    """An alert title raised as "中文 English" → ("中文", "English"); one language only → it twice."""
    title = title.strip()
    cut = None
    for i, ch in enumerate(title):
        if _CJK.match(ch):
            cut = None
        elif ch.isascii() and ch.isalpha() and cut is None and i > 0 and _CJK.search(title[:i]):
            cut = i
    if cut is None or not _CJK.search(title[:cut]):
        return title, title
    zh, en = title[:cut].strip(" ：:·-"), title[cut:].strip()
    if _CJK.search(en):  # mixed further on: keep it whole
        return title, title
    return zh or title, en or title


@dataclass(frozen=True)
class AlertRow:
    key: str
    severity: str  # critical, warning, info
    title_zh: str
    title_en: str
    active: bool
    acked: bool
    last_seen: str | None
    count: int


@dataclass(frozen=True)
class MeterSeries:
    """One meter's use today, per 15-minute slot of the site day (None: no reading that slot)."""

    meter_id: str
    kind: str  # electricity, water, heat, environment
    place: str
    unit: str
    values: list[float | None]  # SLOTS_PER_DAY slots from local midnight
    total: float
    now_slot: int  # the slot of the current time
    night: tuple[int, int] | None  # the leak-check window as [start, end) slots (end < start: past midnight)
    health: str  # ok, degraded, lost, unknown


@dataclass(frozen=True)
class PlanPoint:
    device: str
    label: str
    x: float  # 0 left .. 1 right
    y: float  # 0 top .. 1 bottom
    state: str  # ok, degraded, lost, unknown


@dataclass(frozen=True)
class FloorPlan:
    image: str  # a readable image file, or "" (draw an outline)
    points: list[PlanPoint]


@dataclass(frozen=True)
class TimelineRound:
    route: str
    kind: str  # fixed, every, random, ad_hoc
    planned: float | None  # hours since the timeline's start (None: ad hoc)
    window: tuple[float, float] | None  # the due window to start in, hours since the start
    started: float | None
    state: str  # completed, abandoned, not_started, open, waiting, upcoming, closed
    visited: int
    points: int


@dataclass(frozen=True)
class PatrolNight:
    """Tonight's rounds against their due windows, and counts that add up.

    total = scheduled + unscheduled = completed + abandoned + not_started + open + waiting + upcoming
    (waiting: due now, not started yet; upcoming: later tonight). Random rounds still to come
    are counted only: their times are the site's secret.
    """

    start: dt.datetime  # local, NIGHT_FROM_HOUR of the first night day
    hours: int
    now: float  # hours since start
    rounds: list[TimelineRound]
    counts: dict[str, int]


def _hours(start: dt.datetime, when: dt.datetime) -> float:
    return (when - start).total_seconds() / 3600


class StaffFigures:
    """The counts on the tabs and the figures behind the pictures (mixed into StaffDashboard)."""

    services: LobbyServices
    ctx: Any
    alerts: AlertEngine
    patrol: Any
    own_devices: Callable[[], list[DeviceHealth]]

    # -------------------------------------------------------------- tab counts

    def tab_counts(self) -> dict[str, int]:
        """What each tab's label counts: alerts not yet acknowledged or still active, devices not OK,
        tonight's rounds with a problem (abandoned or not started), visitors in the building, held
        check-ins. A count is no personal data, so the card alone shows them."""
        store = self.ctx.store
        alerts = int(store.scalar("SELECT count(*) FROM alerts WHERE state = 'active' OR acked = 0") or 0)
        devices = sum(1 for p in self.device_states().values() if p in ("degraded", "lost"))
        patrol = 0
        night = self.patrol_night()
        if night is not None:
            patrol = night.counts["abandoned"] + night.counts["not_started"]
        held = int(store.scalar("SELECT count(*) FROM visits WHERE status = 'held'") or 0)
        people = len(self.services.rollcall.in_building().visitors)
        return {"alerts": alerts, "devices": devices, "patrol": patrol, "people": people, "held": held}

    def alert_rows(self) -> list[AlertRow]:
        out = []
        for a in self.alerts.active():
            zh, en = split_title(str(a["title"]))
            out.append(AlertRow(a["key"], a["severity"], zh, en, a["state"] == "active", bool(a["acked"]),
                                a["last_seen"], int(a["count"])))
        return out

    # -------------------------------------------------------------- devices: states, meters, floor plan

    def device_states(self) -> dict[str, str]:
        """Every device this Pi knows of and its state: the kiosk's own, the gateway's report, the meters."""
        states: dict[str, str] = {}
        report = self._meta_json("gateway.health") or {}  # type: ignore[attr-defined]
        for d in report.get("devices", []):
            states[str(d.get("device_id", "?"))] = str(d.get("state", "unknown"))
        for row in self.ctx.store.query("SELECT meter_id, health FROM meter_latest"):
            states.setdefault(row["meter_id"], row["health"])
        for d in self.own_devices():
            states[d.device_id] = d.state.value
        return states

    def meter_series(self) -> list[MeterSeries]:
        cfg = self.ctx.cfg
        tz = self.ctx.tz
        local_now = self.ctx.now().local(tz)
        midnight = dt.datetime.combine(local_now.date(), dt.time(0), tz)
        start_utc = midnight.astimezone(dt.timezone.utc) - dt.timedelta(minutes=SLOT_MIN)
        now_slot = min(SLOTS_PER_DAY - 1, int(_hours(midnight, local_now) * 60 // SLOT_MIN))
        health = {r["meter_id"]: r["health"] for r in self.ctx.store.query("SELECT meter_id, health FROM meter_latest")}
        out = []
        for m in cfg.meters:
            rows = self.ctx.store.query("SELECT slot_ts, unit, odometer FROM meter_slots WHERE meter_id = ? "
                                        "AND slot_ts >= ? ORDER BY slot_ts",
                                        (m.id, start_utc.strftime("%Y-%m-%dT%H:%M:%S")))
            values: list[float | None] = [None] * SLOTS_PER_DAY
            unit = rows[-1]["unit"] if rows else ""
            previous: float | None = None
            for r in rows:
                slot = int(_hours(midnight, parse_ts(r["slot_ts"]).astimezone(tz)) * 60 // SLOT_MIN)
                if previous is not None and 0 <= slot < SLOTS_PER_DAY:
                    values[slot] = max(0.0, float(r["odometer"]) - previous)
                previous = float(r["odometer"])
            night = None
            if m.leak_check:
                a = (m.leak_from.hour * 60 + m.leak_from.minute) // SLOT_MIN
                b = (m.leak_to.hour * 60 + m.leak_to.minute) // SLOT_MIN
                night = (a, b)
            kind = m.kind or ("water" if "water" in m.id else "electricity")
            out.append(MeterSeries(m.id, kind, m.place, unit, values, round(sum(v for v in values if v), 3),
                                   now_slot, night, health.get(m.id, "unknown")))
        return out

    def floor_plan(self) -> FloorPlan | None:
        """The configured floor plan with each point's state; None when no point is configured."""
        plan = self.ctx.cfg.kiosk.floor_plan
        if not plan.points:
            return None
        import os

        states = self.device_states()
        image = plan.image if plan.image and os.path.isfile(plan.image) and os.access(plan.image, os.R_OK) else ""
        return FloorPlan(image, [PlanPoint(p.device, p.label or p.device, p.x, p.y, states.get(p.device, "unknown"))
                                 for p in plan.points])

    # -------------------------------------------------------------- patrol

    def patrol_night(self) -> PatrolNight | None:
        if self.patrol is None:
            return None
        tz = self.ctx.tz
        now_i = self.ctx.now()
        local_now = now_i.local(tz)
        days = self.night_days()  # type: ignore[attr-defined]
        start = dt.datetime.combine(days[0], dt.time(NIGHT_FROM_HOUR), tz)
        pc = self.ctx.cfg.patrol
        early, late = pc.early_start_min / 60, pc.start_window_min / 60
        counts = dict(total=0, scheduled=0, unscheduled=0, completed=0, abandoned=0, not_started=0, open=0,
                      waiting=0, upcoming=0)
        rounds: list[TimelineRound] = []
        seen: set[tuple[str, str]] = set()
        for day in days:
            report = self.patrol.report(day)
            r = report["rounds"]
            counts["scheduled"] += r["planned"]
            counts["unscheduled"] += r["unscheduled"]
            for k in ("completed", "abandoned", "not_started", "open", "waiting", "upcoming"):
                counts[k] += r[k]
            for rd in report["round_list"]:
                planned = _clock_on(day, rd["planned"], tz)
                started = _clock_on(day, rd["started"], tz)
                p = _hours(start, planned) if planned else None
                state = rd["outcome"] or rd["state"]
                state = "waiting" if state == "planned" else state
                rounds.append(TimelineRound(rd["route_id"], rd["kind"], p,
                                            (p - early, p + late) if p is not None else None,
                                            _hours(start, started) if started else None, state, rd["visited"],
                                            rd["points"]))
                if rd["planned"]:
                    seen.add((rd["route_id"], rd["planned"]))
            for occ in self.patrol.occurrences(day):
                when = occ.planned.astimezone(tz)
                if occ.kind == "random" or when.date() != day or when <= local_now:
                    continue  # random rounds to come stay secret; only counted
                if (occ.route_id, f"{when:%H:%M}") in seen:
                    continue
                p = _hours(start, when)
                rounds.append(TimelineRound(occ.route_id, occ.kind, p, (p - early, p + late), None, "upcoming", 0,
                                            0))
        counts["total"] = counts["scheduled"] + counts["unscheduled"]
        rounds.sort(key=lambda t: (t.planned if t.planned is not None else (t.started or 0)))
        # a round (or now) before 18:00: the timeline starts at that hour instead
        earliest = min([_hours(start, local_now)] + [h for t in rounds for h in (t.planned, t.started)
                                                     if h is not None])
        shift = math.floor(min(0.0, earliest))
        if shift < 0:
            start += dt.timedelta(hours=shift)
            rounds = [dataclasses.replace(t, planned=None if t.planned is None else t.planned - shift,
                                          started=None if t.started is None else t.started - shift,
                                          window=None if t.window is None else (t.window[0] - shift,
                                                                                t.window[1] - shift))
                      for t in rounds]
        return PatrolNight(start, NIGHT_HOURS - shift, _hours(start, local_now), rounds, counts)


def _clock_on(day: dt.date, hhmm: str | None, tz: Any) -> dt.datetime | None:
    """A report's "HH:MM" (site time) on the round's site day."""
    if not hhmm:
        return None
    h, m = (int(x) for x in hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(h, m), tz)


class StaffDashboard(StaffFigures):
    def __init__(self, services: LobbyServices, alerts: AlertEngine, patrol: Any,
                 own_devices: Callable[[], list[DeviceHealth]]) -> None:
        self.services = services
        self.ctx = services.ctx
        self.alerts = alerts
        self.patrol = patrol  # a PatrolEngine, or None when this kiosk has no patrol
        self.own_devices = own_devices

    # ------------------------------------------------------------------ alerts

    def active_alerts(self) -> list[dict[str, Any]]:
        return self.alerts.active()

    # ------------------------------------------------------------------ devices and the link

    def _meta_json(self, key: str) -> dict[str, Any] | None:
        try:
            raw = self.ctx.store.get_meta(key)
            return json.loads(raw) if raw else None
        except (StoreError, ValueError):
            return None

    def link_state(self) -> str:
        """The bridge's link to central as the gateway last wrote it: up, down or unknown."""
        bridge = self._meta_json("bridge.status") or {}
        report = self._meta_json("gateway.health") or {}
        link = bridge.get("link") or report.get("broker_link") or "unknown"
        if link in ("up", "connected"):
            return "up"
        return "unknown" if link == "unknown" else "down"

    def outbox_depth(self) -> dict[str, int]:
        lanes = depth(self.ctx.store.connection())
        return {"critical": lanes[Lane.CRITICAL].rows, "bulk": lanes[Lane.BULK].rows}

    def devices(self) -> DevicesView:
        report = self._meta_json("gateway.health")
        outbox = self.outbox_depth()
        gateway = [GatewayDevice(str(d.get("device_id", "?")), str(d.get("state", "unknown")), str(d.get("reason", "")))
                   for d in (report or {}).get("devices", [])]
        ts = str(report.get("ts", "")).replace("+00:00", "Z") if report else None
        return DevicesView(self.own_devices(), self.link_state(), outbox["critical"], outbox["bulk"], ts or None,
                           gateway)

    # ------------------------------------------------------------------ patrol

    def night_days(self) -> list[dt.date]:
        """The site days whose rounds make up tonight: before noon the night began yesterday."""
        local = self.ctx.now().local(self.ctx.tz)
        if local.hour >= NIGHT_ENDS_AT_HOUR:
            return [local.date()]
        return [local.date() - dt.timedelta(days=1), local.date()]

    def tonight_rounds(self) -> list[tuple[dt.date, dict[str, Any]]] | None:
        """Each day of tonight with its patrol report; None when this kiosk has no patrol engine."""
        if self.patrol is None:
            return None
        return [(day, self.patrol.report(day)) for day in self.night_days()]

    def route_names(self) -> dict[str, str]:
        return {route.id: route.name for route in self.ctx.cfg.patrol.routes}

    # ------------------------------------------------------------------ today

    def today(self) -> TodayCounts:
        store = self.ctx.store
        day = self.ctx.site_day(self.ctx.now())
        v = store.query(
            "SELECT count(*) AS visits, coalesce(sum(party_size), 0) AS people, "
            "coalesce(sum(status = 'in'), 0) AS inside, coalesce(sum(status = 'out'), 0) AS out_ "
            "FROM visits WHERE site_day = ?", (day,))[0]
        tickets = store.query("SELECT count(*) AS n FROM tickets WHERE site_day = ?", (day,))[0]["n"]
        open_tickets = store.query("SELECT count(*) AS n FROM tickets WHERE status != 'closed'")[0]["n"]
        satisfaction = self.services.feedback.satisfaction("day", day)
        return TodayCounts(day, int(v["visits"]), int(v["people"]), int(v["inside"]), int(v["out_"]), int(tickets),
                           int(open_tickets), satisfaction, kpi_lines(self.services, day))
