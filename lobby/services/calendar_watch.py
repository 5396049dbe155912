"""The `service.calendar` alert: the working-day calendar is about to run out, or has.

From October of the last year the calendar covers (the chinesecalendar library, extended
by central's `[service] calendar_years`) a warning; once that year is over, a critical
alert, because return-visit deadlines are then counted on an estimated calendar
(lobby/services/workdays.py). It clears when the software or central's policy adds the
next year. `lobby doctor` says the same (lobby/doctor/calendar_check.py).
"""

from __future__ import annotations

from mqtt_bridge.alerts import Severity
from mqtt_bridge.clock import Instant

from lobby.services.context import ServiceContext
from lobby.services.workdays import WorkingCalendar

KEY = "service.calendar"


def check_calendar(ctx: ServiceContext, now: Instant) -> str:
    """Raise, escalate or clear the calendar alert; returns the outlook's state."""
    outlook = WorkingCalendar.from_service(ctx.cfg.service).outlook(now.local(ctx.tz).date())
    alerts = ctx.alerts
    assert alerts is not None
    current = alerts.get(KEY)
    if outlook.state == "ok":
        if current is not None and current["state"] == "active":
            alerts.clear(KEY)
        return outlook.state
    severity = Severity.WARNING if outlook.state == "running_out" else Severity.CRITICAL
    if current is None or current["state"] != "active" or current["severity"] != severity.value:
        alerts.raise_alert(KEY, severity, "工作日历即将用尽 Working-day calendar running out"
                           if outlook.state == "running_out" else "工作日历已用尽 Working-day calendar expired",
                           {"state": outlook.state, "last_year": outlook.last_year, "message_zh": outlook.zh,
                            "message_en": outlook.en})
    return outlook.state
