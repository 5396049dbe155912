"""Satisfaction surveys (满意度调查): central's results, kept apart from the lobby's face presses.

DOMAIN (the service plan's rule, the default): twice a year a survey is handed to 100 % of
the occupied units (kpi.survey_handout_pct), at least 60 % come back (kpi.survey_return_target_pct)
within 15 working days (kpi.survey_return_working_days, China's official calendar), and the
target is about 85 % satisfied (feedback.satisfaction_target_pct). Running the survey is
central's duty; central sends each survey's figures with the `survey.result` command (again
as returns come in: the same survey_id updates it), and the gateway checks them against
the rules, keeps them and publishes `feedback.survey`. The lobby's faces
(feedback.py) stay a separate, continuous signal: the two are never mixed into one score.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from mqtt_bridge.clock import Instant
from mqtt_bridge.commands.intake import CommandRejected
from mqtt_bridge.store import Transaction

from lobby.services.context import ServiceContext, rows
from lobby.services.workdays import WorkingCalendar


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


@dataclass(frozen=True)
class SurveyResult:
    survey_id: str
    handed_out_on: str
    units_occupied: int
    handed_out: int
    returned: int
    satisfied: int
    return_due: str
    handout_pct: float | None
    return_pct: float | None
    satisfaction_pct: float | None
    handout_target_pct: float
    return_target_pct: float
    satisfaction_target_pct: float

    @property
    def met(self) -> dict[str, bool | None]:
        def ok(value: float | None, target: float) -> bool | None:
            return None if value is None else value >= target

        return {"handout": ok(self.handout_pct, self.handout_target_pct),
                "return": ok(self.return_pct, self.return_target_pct),
                "satisfaction": ok(self.satisfaction_pct, self.satisfaction_target_pct)}

    def data(self) -> dict[str, Any]:
        return {"survey_id": self.survey_id, "handed_out_on": self.handed_out_on,
                "units_occupied": self.units_occupied, "handed_out": self.handed_out, "returned": self.returned,
                "satisfied": self.satisfied, "return_due": self.return_due, "handout_pct": self.handout_pct,
                "return_pct": self.return_pct, "satisfaction_pct": self.satisfaction_pct,
                "handout_target_pct": self.handout_target_pct, "return_target_pct": self.return_target_pct,
                "satisfaction_target_pct": self.satisfaction_target_pct, "met": self.met}


class SurveyService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _result(self, r: dict[str, Any]) -> SurveyResult:
        kpi, feedback = self.ctx.cfg.kpi, self.ctx.cfg.feedback
        return SurveyResult(r["survey_id"], r["handed_out_on"], r["units_occupied"], r["handed_out"], r["returned"],
                            r["satisfied"], r["return_due"], _pct(r["handed_out"], r["units_occupied"]),
                            _pct(r["returned"], r["handed_out"]), _pct(r["satisfied"], r["returned"]),
                            kpi.survey_handout_pct, kpi.survey_return_target_pct, feedback.satisfaction_target_pct)

    def receive_tx(self, tx: Transaction, data: dict[str, Any], now: Instant | None = None) -> dict[str, Any]:
        """central's survey.result, in the command intake's transaction."""
        now = self.ctx.now(now)
        try:
            handed_out_on = dt.date.fromisoformat(data["handed_out_on"])
        except ValueError:
            raise CommandRejected("handed_out_on: not a real date (YYYY-MM-DD)") from None
        units, handed, returned, satisfied = (data["units_occupied"], data["handed_out"], data["returned"],
                                              data["satisfied"])
        if not satisfied <= returned <= handed:
            raise CommandRejected("the counts must satisfy satisfied <= returned <= handed_out")
        start = dt.datetime.combine(handed_out_on, dt.time(12), self.ctx.tz)
        due, _ = WorkingCalendar.from_service(self.ctx.cfg.service).add_working_days(
            start, self.ctx.cfg.kpi.survey_return_working_days)
        tx.execute("INSERT INTO surveys (survey_id, handed_out_on, units_occupied, handed_out, returned, satisfied, "
                   "return_due, received_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(survey_id) DO UPDATE SET "
                   "handed_out_on = excluded.handed_out_on, units_occupied = excluded.units_occupied, "
                   "handed_out = excluded.handed_out, returned = excluded.returned, satisfied = excluded.satisfied, "
                   "return_due = excluded.return_due, received_ts = excluded.received_ts",
                   (data["survey_id"], handed_out_on.isoformat(), units, handed, returned, satisfied,
                    due.date().isoformat(), now.ts))
        result = self._result(rows(tx, "SELECT * FROM surveys WHERE survey_id = ?", (data["survey_id"],))[0])
        tx.emit("feedback", "feedback.survey", result.data())
        return {"survey_id": result.survey_id, "return_due": result.return_due, "met": result.met}

    def latest(self) -> SurveyResult | None:
        found = self.ctx.store.query("SELECT * FROM surveys ORDER BY handed_out_on DESC, received_ts DESC LIMIT 1")
        return self._result(found[0]) if found else None
