"""The working-day calendar: China's holidays and make-up working days must cover the deadlines ahead.

A warning from October of the last year covered, and still a warning (not a failure) once it has
run out: the lobby keeps working on an explicitly estimated calendar (lobby/services/workdays.py),
and the gateway's `service.calendar` alert turns critical then, so the operator hears it twice.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from lobby.config import Config
from lobby.doctor.base import Check, Context, Result, ok, warn
from lobby.services.workdays import WorkingCalendar

NAME = "calendar"


def checks(cfg: Config) -> list[Check]:
    return [Check(NAME, run, timeout_s=2.0)]


def run(ctx: Context, today: dt.date | None = None) -> list[Result]:
    cfg = ctx.cfg
    today = today or dt.datetime.now(zoneinfo.ZoneInfo(cfg.site.timezone)).date()
    outlook = WorkingCalendar.from_service(cfg.service).outlook(today)
    fix = (f"Upgrade lobby (pip install -U \"chinesecalendar>=1.11,<2\" brings each new year's State Council notice), "
           f"or have central push the {outlook.last_year + 1} holidays and make-up working days with config.update "
           f"([service] holidays, extra_workdays and calendar_years = [{outlook.last_year + 1}]).")
    if outlook.state in ("expired", "running_out"):
        return [warn(NAME, outlook.en, fix, last_year=outlook.last_year)]
    return [ok(NAME, outlook.en, last_year=outlook.last_year)]
