"""China's working days: official public holidays off, make-up working weekends (调休) on.

DOMAIN: return visits are due within 2 *working* days, and working days follow the State
Council's yearly notice, so a weekday-only count is wrong around Spring Festival and
National Day. The answer for a day comes from, in this order:

1. central's corrections, `[service] holidays` and `extra_workdays` (config.update can push
   them): a day listed there is off, or on, whatever the library says;
2. the `chinesecalendar` library, which carries each year's notice, holidays and 调休 days
   both, and is released each November when the next year's notice is out;
3. for a year that neither the library nor central covers (a year is covered by central when
   it is listed in `[service] calendar_years`), an *explicit estimate*: Monday to Friday
   minus the fixed-date statutory holidays (1 January, 1 May, 1-3 October). The lunar
   holidays (Spring Festival, Qingming, Dragon Boat, Mid-Autumn) and the 调休 days cannot be
   known before the notice, so every deadline counted over an estimated day is marked
   `estimated` (in the clock, its event and on the staff screen), and the gateway raises
   the `service.calendar` alert and `lobby doctor` warns, from October of the last covered
   year (warning) and once the year has run out (critical).

The estimate is deliberately not silent: a wrong deadline that nobody is told about is the
failure this module exists to prevent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import chinese_calendar

Basis = Literal["central", "official", "estimated"]
_RANK: dict[str, int] = {"central": 0, "official": 0, "estimated": 1}
FIXED_HOLIDAYS = ((1, 1), (5, 1), (10, 1), (10, 2), (10, 3))  # the statutory days that never move
WARN_FROM_MONTH = 10  # warn from Q4 of the last year the calendar covers
LIBRARY_FIRST_YEAR = min(chinese_calendar.holidays).year
LIBRARY_LAST_YEAR = max(chinese_calendar.holidays).year


@dataclass(frozen=True)
class DayInfo:
    day: dt.date
    workday: bool
    basis: Basis


@dataclass(frozen=True)
class Outlook:
    """Whether the calendar still covers what the deadlines need."""

    state: Literal["ok", "running_out", "expired"]
    last_year: int  # the last year with official (library or central) data
    zh: str
    en: str


class WorkingCalendar:
    """Answers "is this a working day?" for a site, and counts working days."""

    def __init__(self, holidays: Iterable[str] = (), workdays: Iterable[str] = (), years: Iterable[int] = ()) -> None:
        self.holidays = frozenset(dt.date.fromisoformat(d) for d in holidays)
        self.workdays = frozenset(dt.date.fromisoformat(d) for d in workdays)
        self.central_years = frozenset(years)

    @classmethod
    def from_service(cls, service: object) -> "WorkingCalendar":
        """From `[service]` (holidays, extra_workdays, calendar_years)."""
        return cls(getattr(service, "holidays"), getattr(service, "extra_workdays"),
                   getattr(service, "calendar_years"))

    # -------------------------------------------------------------- one day

    def day(self, day: dt.date) -> DayInfo:
        if day in self.workdays:
            return DayInfo(day, True, "central")
        if day in self.holidays:
            return DayInfo(day, False, "central")
        if day.year in self.central_years and day.year > LIBRARY_LAST_YEAR:  # central's list is that year's notice
            return DayInfo(day, day.weekday() < 5, "central")
        if LIBRARY_FIRST_YEAR <= day.year <= LIBRARY_LAST_YEAR:
            return DayInfo(day, bool(chinese_calendar.is_workday(day)), "official")
        fixed = (day.month, day.day) in FIXED_HOLIDAYS
        return DayInfo(day, day.weekday() < 5 and not fixed, "estimated")

    def is_workday(self, day: dt.date) -> bool:
        return self.day(day).workday

    # -------------------------------------------------------------- counting

    def add_working_days(self, start: dt.datetime, days: int) -> tuple[dt.datetime, Basis]:
        """The same local time `days` working days after `start` (site-local), and the basis of the count.

        The basis is "estimated" when any day passed over came from the estimate.
        """
        day = start.date()
        counted = 0
        basis: Basis = "official"
        while counted < days:
            day += dt.timedelta(days=1)
            info = self.day(day)
            if _RANK[info.basis] > _RANK[basis]:
                basis = info.basis
            if info.workday:
                counted += 1
        return dt.datetime.combine(day, start.timetz().replace(tzinfo=None), start.tzinfo), basis

    # -------------------------------------------------------------- coverage

    @property
    def last_year(self) -> int:
        covered = LIBRARY_LAST_YEAR
        while covered + 1 in self.central_years:
            covered += 1
        return covered

    def outlook(self, today: dt.date) -> Outlook:
        last = self.last_year
        if today.year > last:
            return Outlook("expired", last,
                           f"工作日历只到{last}年：{today.year}年的节假日和调休尚未载入，回访时限按估算计算。"
                           f"请升级软件或由总部下发{today.year}年的节假日安排。",
                           f"The working-day calendar ends with {last}: {today.year}'s holidays and make-up working "
                           f"days are not loaded, so return-visit deadlines are estimated. Upgrade lobby or have "
                           f"central push {today.year}'s holidays ([service] holidays, extra_workdays, calendar_years).")
        if today.year == last and today.month >= WARN_FROM_MONTH:
            return Outlook("running_out", last,
                           f"工作日历只到{last}年年底。请在年底前升级软件或由总部下发{last + 1}年的节假日安排。",
                           f"The working-day calendar ends with {last}. Before the year ends, upgrade lobby "
                           f"(chinesecalendar) or have central push {last + 1}'s holidays ([service] holidays, "
                           f"extra_workdays, calendar_years).")
        return Outlook("ok", last, f"工作日历覆盖至{last}年。", f"The working-day calendar covers up to {last}.")
