"""Who is in the building, and the evacuation roll call (火场人流疏散).

`in_building()` is the live list at any moment: every visit checked in and not
out (party sizes counted), however long ago, including check-ins held for
approval (those people stand in the lobby). A visit older than
visitors.roll_call_hours is flagged "超过24小时，请核实 / over 24 h, verify" on
screen, on the printed list and in the roll-call event, and never dropped. An evacuation (central's evacuation.start or the staff
screen) freezes that list into a roll call; staff mark people safe; closing it
(evacuation.end or staff) records and publishes the counts: total, safe,
unaccounted. Only one roll call is open at a time; starting again returns it.
Events carry counts and ids only, never names.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from mqtt_bridge.commands.intake import CommandRejected
from mqtt_bridge.store import StoreError, Transaction
from mqtt_bridge.store.ids import uuid7

from mqtt_bridge.clock import Instant, parse_ts
from lobby.services.context import ServiceContext, row, store_failure
from lobby.services.messages import Message, Outcome, ValidationFailed
from lobby.services.phone import mask_name
from lobby.services.text import clean_free_text
from lobby.services.visitors import stale_flag, visit_rows_in_building

log = logging.getLogger(__name__)

NO_ROLL_CALL = Message("no_roll_call", "当前没有进行中的疏散点名。", "There is no roll call in progress.")
PRINT_HELD = Message("print_held", "打印机暂时无法打印（可能缺纸或未连接），请使用屏幕上的名单，打印机恢复后可重新打印。",
                     "The printer cannot print right now (out of paper or offline). Please use the list on screen; "
                     "you can print again once the printer is back.")
NOT_ON_LIST = Message("not_on_list", "此访客不在本次点名名单中。", "This visitor is not on this roll call.")


@dataclass(frozen=True)
class PresentVisitor:
    visit_id: str
    name: str | None
    masked_name: str
    party_size: int
    host_unit: str
    host_company: str
    checked_in: dt.datetime  # site-local
    pass_no: str | None
    held: bool
    stale: bool = False  # signed in longer ago than visitors.roll_call_hours: verify


@dataclass(frozen=True)
class Headcount:
    visitors: list[PresentVisitor]
    people: int  # party sizes counted
    at: dt.datetime  # site-local


@dataclass(frozen=True)
class RollCallEntryView:
    visit_id: str
    name: str | None  # full names: the roll call is for staff
    party_size: int
    safe_count: int
    host_unit: str
    pass_no: str | None
    checked_in: dt.datetime
    stale: bool = False  # signed in longer before the roll call than visitors.roll_call_hours: verify

    @property
    def all_safe(self) -> bool:
        return self.safe_count >= self.party_size


@dataclass(frozen=True)
class RollCallView:
    id: str
    state: str  # open / closed
    source: str
    reason: str
    drill: bool
    started: dt.datetime
    closed: dt.datetime | None
    total: int
    safe: int
    unaccounted: int
    entries: list[RollCallEntryView]


class RollCallService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # -------------------------------------------------------------- live list

    def stale_flag(self) -> tuple[str, str]:
        """How a visit older than visitors.roll_call_hours is flagged: ("超过24小时，请核实", "over 24 h, verify")."""
        return stale_flag(self.ctx)

    def in_building(self, now: Instant | None = None) -> Headcount:
        now = self.ctx.now(now)
        found = visit_rows_in_building(self.ctx, self.ctx.reader(), now)  # one SELECT: one consistent read
        people = [PresentVisitor(r["id"], r["name"], mask_name(r["name"]), r["party_size"], r["host_unit"],
                                 r["host_company"], self.ctx.local(r["checked_in_ts"]), r["pass_no"],
                                 r["status"] == "held", bool(r["stale"])) for r in found]
        return Headcount(people, sum(p.party_size for p in people), now.local(self.ctx.tz))

    # -------------------------------------------------------------- start

    def start(self, source: str = "staff", reason: str = "", drill: bool = False,
              now: Instant | None = None) -> Outcome[RollCallView]:
        now = self.ctx.now(now)
        try:
            with self.ctx.store.transaction() as tx:
                roll_id, _ = self.start_tx(tx, source, reason, drill, now)
        except StoreError as exc:
            return store_failure(exc, "roll call")
        view = self.get(roll_id)
        return Outcome.success("open", Message("roll_call_open", f"疏散点名已开始：在楼访客{view.total if view else 0}人。",
                                               f"Roll call started: {view.total if view else 0} visitors in the building."),
                               view)

    def start_tx(self, tx: Transaction, source: str, reason: str, drill: bool, now: Instant) -> tuple[str, bool]:
        """Freeze the list in the caller's transaction. Returns (roll call id, newly started)."""
        open_ = row(tx, "SELECT id FROM roll_calls WHERE state = 'open'")
        if open_ is not None:
            return open_["id"], False
        try:
            reason = clean_free_text(reason, field="reason", max_len=200, required=False) or ""
        except ValidationFailed:
            reason = ""  # an evacuation never fails because of its label
        roll_id = uuid7()
        present = visit_rows_in_building(self.ctx, tx, now)
        total = sum(r["party_size"] for r in present)
        tx.execute("INSERT INTO roll_calls (id, state, source, reason, drill, started_ts, total) "
                   "VALUES (?, 'open', ?, ?, ?, ?, ?)", (roll_id, source, reason, int(drill), now.ts, total))
        tx.conn.executemany("INSERT INTO roll_call_entries (roll_call_id, visit_id, party_size) VALUES (?, ?, ?)",
                            [(roll_id, r["id"], r["party_size"]) for r in present])
        stale = [r["id"] for r in present if r["stale"]]
        tx.emit("visitor", "visitor.roll_call_started", {
            "roll_call_id": roll_id, "source": source, "drill": drill, "visits": len(present), "people": total,
            "started_at": now.ts, "stale_visits": len(stale), "stale_visit_ids": stale[:500]})
        log.warning("roll call %s started (%s): %d people", roll_id, source, total)
        return roll_id, True

    # -------------------------------------------------------------- reading

    def current(self) -> RollCallView | None:
        found = self.ctx.store.query("SELECT id FROM roll_calls WHERE state = 'open'")
        return self.get(found[0]["id"]) if found else None

    def get(self, roll_call_id: str) -> RollCallView | None:
        head = self.ctx.store.query("SELECT * FROM roll_calls WHERE id = ?", (roll_call_id,))
        if not head:
            return None
        h = head[0]
        entries = self.ctx.store.query(
            "SELECT e.visit_id, e.party_size, e.safe_count, v.name, v.host_unit, v.checked_in_ts, p.pass_no "
            "FROM roll_call_entries e JOIN visits v ON v.id = e.visit_id "
            "LEFT JOIN visitor_passes p ON p.visit_id = e.visit_id WHERE e.roll_call_id = ? "
            "ORDER BY v.checked_in_ts", (roll_call_id,))
        started = self.ctx.local(h["started_ts"])
        stale_after = dt.timedelta(hours=self.ctx.cfg.visitors.roll_call_hours)
        views = [RollCallEntryView(e["visit_id"], e["name"], e["party_size"], e["safe_count"], e["host_unit"],
                                   e["pass_no"], self.ctx.local(e["checked_in_ts"]),
                                   started - self.ctx.local(e["checked_in_ts"]) > stale_after) for e in entries]
        safe = sum(min(e.safe_count, e.party_size) for e in views)
        return RollCallView(h["id"], h["state"], h["source"], h["reason"], bool(h["drill"]),
                            self.ctx.local(h["started_ts"]), self.ctx.local(h["closed_ts"]) if h["closed_ts"] else None,
                            h["total"], h["safe"] if h["safe"] is not None else safe,
                            h["unaccounted"] if h["unaccounted"] is not None else h["total"] - safe, views)

    # -------------------------------------------------------------- marking

    def mark_safe(self, visit_id: str, safe: bool = True, count: int | None = None, by: str = "staff",
                  now: Instant | None = None) -> Outcome[RollCallView]:
        """Mark a visit's party safe (all of it, or `count` people of it); safe=False un-marks."""
        now = self.ctx.now(now)
        try:
            with self.ctx.store.transaction() as tx:
                open_ = row(tx, "SELECT id FROM roll_calls WHERE state = 'open'")
                if open_ is None:
                    return Outcome.failure("no_roll_call", NO_ROLL_CALL)
                entry = row(tx, "SELECT party_size FROM roll_call_entries WHERE roll_call_id = ? AND visit_id = ?",
                            (open_["id"], visit_id))
                if entry is None:
                    return Outcome.failure("not_on_list", NOT_ON_LIST)
                n = 0 if not safe else entry["party_size"] if count is None else max(0, min(count, entry["party_size"]))
                tx.execute("UPDATE roll_call_entries SET safe_count = ?, marked_ts = ?, marked_by = ? "
                           "WHERE roll_call_id = ? AND visit_id = ?", (n, now.ts, by[:64], open_["id"], visit_id))
        except StoreError as exc:
            return store_failure(exc, "roll call mark")
        view = self.get(open_["id"])
        return Outcome.success("marked", Message("marked", "已标记。", "Marked."), view)

    # -------------------------------------------------------------- closing

    def close(self, by: str = "staff", now: Instant | None = None) -> Outcome[RollCallView]:
        now = self.ctx.now(now)
        try:
            with self.ctx.store.transaction() as tx:
                result = self.close_tx(tx, "staff", by, now)
        except StoreError as exc:
            return store_failure(exc, "roll call close")
        if result is None:
            return Outcome.failure("no_roll_call", NO_ROLL_CALL)
        view = self.get(result["roll_call_id"])
        return Outcome.success("closed", Message(
            "roll_call_closed", f"疏散点名已结束：共{result['total']}人，已确认安全{result['safe']}人，"
                                f"未确认{result['unaccounted']}人。",
            f"Roll call closed: {result['total']} people, {result['safe']} confirmed safe, "
            f"{result['unaccounted']} unaccounted."), view)

    def close_tx(self, tx: Transaction, source: str, by: str, now: Instant) -> dict[str, Any] | None:
        open_ = row(tx, "SELECT * FROM roll_calls WHERE state = 'open'")
        if open_ is None:
            return None
        safe = tx.execute("SELECT coalesce(sum(min(safe_count, party_size)), 0) FROM roll_call_entries "
                          "WHERE roll_call_id = ?", (open_["id"],)).fetchone()[0]
        total = open_["total"]
        result = {"roll_call_id": open_["id"], "total": total, "safe": safe, "unaccounted": total - safe}
        tx.execute("UPDATE roll_calls SET state = 'closed', closed_ts = ?, closed_by = ?, safe = ?, unaccounted = ? "
                   "WHERE id = ?", (now.ts, f"{source}:{by}"[:80], safe, total - safe, open_["id"]))
        tx.emit("visitor", "visitor.roll_call_closed", {
            **result, "source": source, "drill": bool(open_["drill"]), "started_at": open_["started_ts"],
            "closed_at": now.ts,
            "duration_s": max(0, int((now.wall - parse_ts(open_["started_ts"])).total_seconds()))})
        log.warning("roll call %s closed: total %d, safe %d, unaccounted %d", open_["id"], total, safe, total - safe)
        return result

    # -------------------------------------------------------------- commands

    def command_start(self, tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
        now = self.ctx.now()
        roll_id, new = self.start_tx(tx, "central", data.get("reason", ""), bool(data.get("drill", False)), now)
        total = tx.execute("SELECT total FROM roll_calls WHERE id = ?", (roll_id,)).fetchone()[0]
        return {"roll_call_id": roll_id, "people": total, "already_open": not new}

    def command_end(self, tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
        result = self.close_tx(tx, "central", "central", self.ctx.now())
        if result is None:
            raise CommandRejected("no roll call is open at this gateway (send evacuation.start first)")
        return result

    # -------------------------------------------------------------- printing

    def print(self, roll_call_id: str | None = None, now: Instant | None = None) -> Outcome[Any]:
        """Print the frozen list (or, with no roll call open, the live list) for the assembly point."""
        from drivers.printer import RollCall, RollCallEntry

        now = self.ctx.now(now)
        view = self.get(roll_call_id) if roll_call_id else self.current()
        flag = " · ".join(stale_flag(self.ctx))
        if view is not None:
            entries = [RollCallEntry(e.name or "-", self._detail(e.party_size, e.host_unit, e.stale, flag))
                       for e in view.entries]
            title = "疏散点名（演练） Roll call (drill)" if view.drill else "疏散点名 Roll call"
            notes = [f"合计 Total people: {view.total}"]
        else:
            live = self.in_building(now)
            entries = [RollCallEntry(p.name or "-", self._detail(p.party_size, p.host_unit, p.stale, flag))
                       for p in live.visitors]
            title, notes = "在楼访客 Visitors in building", [f"合计 Total people: {live.people}"]
        if self.ctx.printer is None:
            return Outcome.failure("no_printer", Message("no_printer", "本机没有连接打印机，请在屏幕上查看名单。",
                                                         "There is no printer here; please use the list on screen."))
        try:
            result = self.ctx.printer.print_roll_call(RollCall(entries=entries, printed_at=now.local(self.ctx.tz),
                                                               title=title, site=self.ctx.cfg.site.name, notes=notes))
        except Exception as exc:  # the driver promises not to raise; a bug there must not hide the list
            log.error("roll call print failed: %s", type(exc).__name__)
            return Outcome.failure("print_held", PRINT_HELD)
        if result.printed:
            return Outcome.success("printed", Message("printed", "名单已打印。", "The list has been printed."), result)
        return Outcome.failure("print_held", PRINT_HELD, value=result)

    @staticmethod
    def _detail(party_size: int, host_unit: str, stale: bool, flag: str) -> str:
        detail = f"{party_size}人 people · {host_unit}".strip(" ·")
        return f"{detail} · {flag}" if stale else detail

    def print_once(self, roll_call_id: str) -> Outcome[Any] | None:
        """Print a roll call at the kiosk once: remembered in the store, so a restart does not print it again.

        Returns None when this roll call was printed here already.
        """
        store = self.ctx.store
        if store.get_meta("kiosk.roll_call_printed") == roll_call_id:
            return None
        outcome = self.print(roll_call_id)
        log.info("roll call list printed: %s", outcome.status)
        store.set_meta("kiosk.roll_call_printed", roll_call_id)
        return outcome
