"""UI SUPPORT — added by the kiosk screen work, NOT part of the original lobby services.

Small read-only helpers the touchscreen needs and lobby.services did not offer yet.
Each is a candidate to move into the proper service (noted per function); until
then the screens call these instead of writing SQL themselves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lobby.cardhash import card_hash

from lobby.services.clock import Instant, parse_ts
from lobby.services.context import ServiceContext


@dataclass(frozen=True)
class Notice:
    notice_id: str
    title: str
    body: str


def current_notices(ctx: ServiceContext, now: Instant | None = None, limit: int = 5) -> list[Notice]:
    """Approved notices (central's notice.show) not yet past their `until`, newest first.

    Proposed home: a NoticeService (or LobbyServices.notices()).
    """
    now = ctx.now(now)
    found = ctx.store.query("SELECT notice_id, title, body, until_ts FROM notices ORDER BY shown_ts DESC")
    out = []
    for r in found:
        if r["until_ts"]:
            try:
                if parse_ts(r["until_ts"]) <= now.wall:
                    continue
            except ValueError:
                pass
        out.append(Notice(r["notice_id"], r["title"], r["body"] or ""))
        if len(out) >= limit:
            break
    return out


@dataclass(frozen=True)
class StaffCard:
    holder_id: str | None  # central's id of the holder; None for the config allowlist


def staff_card(ctx: ServiceContext, uid: str) -> StaffCard | None:
    """The active staff card with this UID (cards table, keyed hash), or None.

    Proposed home: a CardService beside passes.link_card (which already refuses staff cards).
    """
    try:
        digest = card_hash(ctx.card_key, uid)
    except (TypeError, ValueError):
        return None
    found = ctx.store.query("SELECT holder_id FROM cards WHERE uid_hash = ? AND role = 'staff' AND active = 1",
                            (digest,))
    return StaffCard(found[0]["holder_id"]) if found else None


@dataclass(frozen=True)
class TodayCounts:
    day: str
    visits: int  # check-ins today (held ones included)
    people: int  # party sizes of today's visits
    in_building: int  # visits of today still in
    checked_out: int
    tickets: int  # created today
    open_tickets: int  # any day, not closed


def today_counts(ctx: ServiceContext, now: Instant | None = None) -> TodayCounts:
    """Today's counts for the staff screen (site-local day).

    Proposed home: VisitorService.counts(day) and TicketService.counts(day).
    """
    now = ctx.now(now)
    day = ctx.site_day(now)
    v = ctx.store.query(
        "SELECT count(*) AS visits, coalesce(sum(party_size), 0) AS people, "
        "coalesce(sum(status = 'in'), 0) AS inside, coalesce(sum(status = 'out'), 0) AS out_ "
        "FROM visits WHERE site_day = ?", (day,))[0]
    t = ctx.store.query("SELECT count(*) AS n FROM tickets WHERE site_day = ?", (day,))[0]
    o = ctx.store.query("SELECT count(*) AS n FROM tickets WHERE status != 'closed'")[0]
    return TodayCounts(day, int(v["visits"]), int(v["people"]), int(v["inside"]), int(v["out_"]), int(t["n"]),
                       int(o["n"]))


def site_now(ctx: ServiceContext, now: Instant | None = None) -> dt.datetime:
    """The site-local time (for the clock on screen)."""
    return ctx.now(now).local(ctx.tz)
