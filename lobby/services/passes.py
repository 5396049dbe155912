"""Visitor passes: the pass number, the printed badge and the temporary NFC card.

The pass number is five symbols from codes.ALPHABET (no 0/O/1/I/L), unique in
the store; the badge's QR code carries exactly this number (drivers.printer's
badge layout) and nothing personal, so scanning the badge at the exit finds the
pass. A temporary NFC pass card is linked by storing only the keyed hash of its
UID (lobby.cardhash.card_hash), and only until the retention purge.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from lobby.cardhash import card_hash
from mqtt_bridge.store import StoreError, Transaction
from mqtt_bridge.timebase import rfc3339

from mqtt_bridge.clock import Instant
from lobby.services.codes import PASS_LENGTH, random_code
from lobby.services.context import ServiceContext, row, store_failure
from lobby.services.messages import Message, Outcome, print_message

log = logging.getLogger(__name__)

CARD_LINKED = Message("card_linked", "访客卡已登记，离开时请在读卡器上刷卡交还，谢谢。",
                      "Your pass card is registered. Please tap it on the reader when you leave. Thank you.")
CARD_BAD = Message("card_unreadable", "对不起，无法识别这张卡，请重新刷卡或请前台协助。",
                   "Sorry, this card could not be read. Please tap it again or ask the front desk.")
CARD_STAFF = Message("card_not_visitor", "对不起，这是员工卡，请使用前台提供的访客卡。",
                     "Sorry, this is a staff card. Please use a visitor pass card from the front desk.")
CARD_IN_USE = Message("card_in_use", "对不起，这张访客卡仍登记在另一位访客名下，请交给前台处理。",
                      "Sorry, this pass card is still registered to another visit. Please hand it to the front desk.")
VISIT_NOT_ACTIVE = Message("visit_not_active", "对不起，此访问已结束或尚未批准，请前台协助。",
                           "Sorry, this visit has ended or is not yet approved. Please ask the front desk.")
NO_PRINTER = Message("no_printer", "对不起，本机没有连接打印机，请到前台领取访客证。",
                     "Sorry, there is no printer at this kiosk. Please collect your pass at the front desk.")
UNKNOWN_VISIT = Message("unknown_visit", "对不起，没有找到这次访问的记录，请前台协助。",
                        "Sorry, we could not find this visit. Please ask the front desk.")


def valid_until(ctx: ServiceContext, now: Instant) -> dt.datetime:
    """Today's `visitors.pass_valid_until` in the site zone; tomorrow's if that has passed."""
    local = now.local(ctx.tz)
    until = dt.datetime.combine(local.date(), ctx.cfg.visitors.pass_valid_until, ctx.tz)
    if until <= local:
        until = dt.datetime.combine(local.date() + dt.timedelta(days=1), ctx.cfg.visitors.pass_valid_until, ctx.tz)
    return until.astimezone(dt.timezone.utc)


def issue(tx: Transaction, ctx: ServiceContext, visit_id: str, now: Instant) -> dict[str, Any]:
    """Create the pass of a visit inside the caller's transaction."""
    for _ in range(50):
        number = random_code(PASS_LENGTH)
        if tx.execute("SELECT 1 FROM visitor_passes WHERE pass_no = ?", (number,)).fetchone() is None:
            break
    else:  # pragma: no cover - 28 million numbers; only a full table gets here
        raise StoreError("no free pass number")
    until = valid_until(ctx, now)
    record = {"pass_no": number, "visit_id": visit_id, "valid_from": now.ts, "valid_until": rfc3339(until),
              "state": "active", "site_day": ctx.site_day(now)}
    tx.execute("INSERT INTO visitor_passes (pass_no, visit_id, valid_from, valid_until, state, site_day) "
               "VALUES (:pass_no, :visit_id, :valid_from, :valid_until, :state, :site_day)", record)
    return record


def uid_hash(ctx: ServiceContext, uid: str) -> str | None:
    try:
        return card_hash(ctx.card_key, uid)
    except (ValueError, TypeError):
        return None


def link_card(ctx: ServiceContext, visit_id: str, uid: str) -> Outcome[str]:
    """Link a temporary NFC pass card (tapped at check-in) to the visit's pass."""
    digest = uid_hash(ctx, uid)
    if digest is None:
        return Outcome.failure("card_unreadable", CARD_BAD)
    now = ctx.now()
    try:
        with ctx.store.transaction() as tx:
            if tx.execute("SELECT 1 FROM cards WHERE uid_hash = ? AND active = 1", (digest,)).fetchone():
                return Outcome.failure("card_not_visitor", CARD_STAFF)
            found = row(tx, "SELECT p.pass_no, p.state, p.card_hash, v.status FROM visitor_passes p "
                            "JOIN visits v ON v.id = p.visit_id WHERE p.visit_id = ?", (visit_id,))
            if found is None:
                return Outcome.failure("unknown_visit", UNKNOWN_VISIT)
            if found["state"] != "active" or found["status"] != "in":
                return Outcome.failure("visit_not_active", VISIT_NOT_ACTIVE)
            if found["card_hash"] == digest:
                return Outcome.success("card_linked", CARD_LINKED, found["pass_no"])
            other = tx.execute("SELECT pass_no FROM visitor_passes WHERE card_hash = ? AND state = 'active' "
                               "AND pass_no != ?", (digest, found["pass_no"])).fetchone()
            if other is not None:
                return Outcome.failure("card_in_use", CARD_IN_USE)
            tx.execute("UPDATE visitor_passes SET card_hash = ?, card_linked_ts = ? WHERE pass_no = ?",
                       (digest, now.ts, found["pass_no"]))
            tx.emit("visitor", "visitor.card_linked", {"visit_id": visit_id, "pass_no": found["pass_no"]})
    except StoreError as exc:
        return store_failure(exc, "card link")
    log.info("pass %s: card linked", found["pass_no"])
    return Outcome.success("card_linked", CARD_LINKED, found["pass_no"])


def print_badge(ctx: ServiceContext, visit_id: str) -> Outcome[Any]:
    """Print the visitor's badge. Never raises because of the printer; the message says what to do."""
    from drivers.printer import VisitorBadge

    found = ctx.store.query(
        "SELECT v.name, v.status, v.host_unit, v.host_company, v.host_person, p.pass_no, p.valid_from, "
        "p.valid_until FROM visits v JOIN visitor_passes p ON p.visit_id = v.id WHERE v.id = ?", (visit_id,))
    if not found:
        return Outcome.failure("unknown_visit", UNKNOWN_VISIT)
    visit = found[0]
    if visit["status"] != "in":
        return Outcome.failure("visit_not_active", VISIT_NOT_ACTIVE)
    if ctx.printer is None:
        return Outcome.failure("no_printer", NO_PRINTER)
    badge = VisitorBadge(
        visitor_name=visit["name"] or "", pass_number=visit["pass_no"],
        valid_from=ctx.local(visit["valid_from"]), valid_until=ctx.local(visit["valid_until"]),
        host_company=visit["host_company"], host_unit=visit["host_unit"], host_person=visit["host_person"] or "")
    try:
        result = ctx.printer.print_badge(badge)
    except Exception as exc:  # the driver promises not to raise; a bug there must not stop the visitor
        log.error("badge for pass %s: printer driver failed: %s", visit["pass_no"], type(exc).__name__)
        return Outcome.failure("print_held", print_message(False, "访客证", "visitor pass"))
    if result.printed:
        return Outcome.success("printed", print_message(True, "访客证", "visitor pass"), result)
    return Outcome.failure("print_held", print_message(False, "访客证", "visitor pass"), value=result)
