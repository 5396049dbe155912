"""What the staff screen shows, decided here: alerts, devices and the link, tonight's rounds, today's counts.

The screen only draws these answers. Reads only (the actions go through the services).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drivers.health import DeviceHealth
from lobby.services import LobbyServices, Satisfaction
from mqtt_bridge.alerts import AlertEngine
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


class StaffDashboard:
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
