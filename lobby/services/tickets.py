"""Tickets: complaints, repairs, suggestions, praise, enquiries and incident reports.

A ticket gets a number the person can read out (tickets.number_length symbols,
no 0/O/1/I/L), its SLA clocks (sla.py) and a promise in words built from the
same numbers (ticket_views.py). Central moves it on with ticket.update through
the state machine (ticket_rules.py, ticket_updates.py); the kiosk looks it up by
number (rate-limited) to show status, replies and what is due next.

What goes to central: ticket.created carries the number, kind, category,
place, description, urgent/equipment flags, source, due times and, if the
person left one, the contact name (omitted when privacy.name_in_events is
false) and phone (masked unless privacy.mask_phone_in_events is false).
While the wall clock is unsynchronised the due times are provisional: the event
says so (due_provisional) and carries each clock's length (due_in_s); once NTP
syncs, ticket.sla_corrected brings the true due times. ticket.updated carries the
number, the status change, whether a reply was recorded (not its text: central
wrote it), the verdict, an exemption and the assignee.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from mqtt_bridge.store import StoreError, Transaction

from mqtt_bridge.clock import Instant
from lobby.services.codes import ALPHABET, random_code, read_code
from lobby.services.context import ServiceContext, store_failure
from lobby.services.messages import CHECK_FORM, FieldError, Message, Outcome, ValidationFailed, print_message, please_wait
from lobby.services.phone import mask_phone, normalise_phone
from lobby.services.escalation import CheckReport, Escalator
from lobby.services.sla import CLOCKS, SlaClocks, duration_text
from lobby.services.text import Label, clean_choice, clean_free_text, clean_name
from lobby.services.ticket_updates import TicketUpdates
from lobby.services.ticket_views import KINDS, STATUSES, ClockView, Reply, TicketView, promise

log = logging.getLogger(__name__)

CATEGORY_LABELS: dict[str, tuple[str, str]] = {
    "engineering": ("工程维修", "Engineering"), "security": ("安保", "Security"), "cleaning": ("保洁", "Cleaning"),
    "greening": ("绿化", "Landscaping"), "parking": ("停车", "Parking"), "noise": ("噪音", "Noise"),
    "developer": ("开发商遗留问题", "Developer issue"), "other": ("其他", "Other"),
}
URGENT_KINDS = ("repair", "incident")
PLACE_KINDS = ("repair", "incident")

KIND = Label("类型", "type of request")
CATEGORY = Label("类别", "category")
BUILDING = Label("楼栋", "building")
FLOOR = Label("楼层", "floor")
AREA = Label("区域", "area")
CONTACT_NAME = Label("联系人姓名", "contact name")
CONTACT_PHONE = Label("联系电话", "contact phone number")

NOT_FOUND = Message("not_found", "对不起，没有找到这个单号。请核对单号（不含数字0和1、字母O、I、L）后重新输入，或请前台协助。",
                    "Sorry, we could not find this ticket number. Please check it (it never contains 0, 1, O, I or L) "
                    "and try again, or ask the front desk.")


@dataclass(frozen=True)
class TicketForm:
    kind: object = None
    category: object = None
    description: object = None
    building: object = None
    floor: object = None
    area: object = None
    urgent: object = False
    contact_name: object = None
    contact_phone: object = None


def category_label(category: str) -> tuple[str, str]:
    return CATEGORY_LABELS.get(category, (category, category))


class TicketService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.sla = SlaClocks(ctx)
        self.escalator = Escalator(ctx, self.sla)
        self.updates = TicketUpdates(ctx, self.sla)
        cfg = ctx.cfg.tickets
        self.limiter = ctx.guesses("ticket_no", cfg.lookup_max_failures, cfg.lookup_failure_window_min,
                                   cfg.lookup_delay_max_s)

    # -------------------------------------------------------------- validation

    def _validate(self, form: TicketForm) -> dict[str, Any]:
        cfg, places = self.ctx.cfg.tickets, self.ctx.cfg.places
        errors: list[FieldError] = []
        out: dict[str, Any] = {}

        def attempt(key: str, fn: Any) -> None:
            try:
                out[key] = fn()
            except ValidationFailed as exc:
                errors.extend(exc.errors)

        attempt("kind", lambda: clean_choice(form.kind, KINDS, field="kind", label=KIND))
        attempt("category", lambda: clean_choice(form.category, list(cfg.categories), field="category", label=CATEGORY))
        building = form.building
        if building is None and len(places.buildings) == 1:
            building = places.buildings[0]
        attempt("building", lambda: clean_choice(building, list(places.buildings), field="building", label=BUILDING))
        attempt("floor", lambda: clean_choice(form.floor, list(places.floors), field="floor", label=FLOOR,
                                              required=False))
        attempt("area", lambda: clean_choice(form.area, list(places.areas), field="area", label=AREA, required=False))
        attempt("description", lambda: clean_free_text(form.description, max_len=cfg.description_max_len))
        attempt("contact_name", lambda: clean_name(form.contact_name, field="contact_name",
                                                   max_len=cfg.contact_name_max_len, required=False,
                                                   label=CONTACT_NAME))
        attempt("contact_phone", lambda: normalise_phone(form.contact_phone, field="contact_phone", required=False,
                                                         label=CONTACT_PHONE))
        if not isinstance(form.urgent, bool):
            errors.append(FieldError("urgent", "invalid", "请选择是否紧急。", "Please say whether it is urgent."))
        if out.get("kind") in PLACE_KINDS and "floor" in out and "area" in out and not out["floor"] and not out["area"]:
            errors.append(FieldError("area", "required", "请选择发生的位置（楼层或区域）。",
                                     "Please choose where it is (a floor or an area)."))
        if errors:
            raise ValidationFailed(*errors)
        out["urgent"] = bool(form.urgent) and out["kind"] in URGENT_KINDS
        out["equipment_fault"] = out["kind"] == "repair" and out["category"] in cfg.equipment_categories
        return out

    # -------------------------------------------------------------- creating

    def create(self, form: TicketForm, source: str = "kiosk", now: Instant | None = None) -> Outcome[TicketView]:
        """Record a ticket and its SLA clocks; the message is the promise to read out or print."""
        now = self.ctx.now(now)
        try:
            values = self._validate(form)
            with self.ctx.store.transaction() as tx:
                number = self.create_tx(tx, values, source, now)
        except ValidationFailed as exc:
            return Outcome.failure("invalid", CHECK_FORM, exc.errors)
        except StoreError as exc:
            return store_failure(exc, "ticket")
        view = self.get(number)
        assert view is not None
        log.info("ticket %s created (%s)", number, values["kind"])
        return Outcome.success("created", view.promise, view)

    def create_tx(self, tx: Transaction, values: dict[str, Any], source: str, now: Instant) -> str:
        """Record an already-validated ticket in the caller's transaction; returns its number.

        `values` has kind, category, building, floor, area, description, urgent, equipment_fault,
        contact_name, contact_phone (the shape `_validate` returns). The gateway's GPIO ticket
        buttons call this inside their own transaction, with source = the button id.
        """
        length = self.ctx.cfg.tickets.number_length
        for attempt in range(200):
            number = random_code(length + attempt // 50)  # longer only if the space is nearly full
            if tx.execute("SELECT 1 FROM tickets WHERE ticket_no = ?", (number,)).fetchone() is None:
                break
        else:  # pragma: no cover
            raise StoreError("no free ticket number")
        rv = self.sla.sampled(values["kind"], number) and values["kind"] in ("repair", "complaint")
        tx.execute(
            "INSERT INTO tickets (ticket_no, kind, category, building, floor, area, description, urgent, equipment_fault, "
            "return_visit_required, contact_name, contact_phone, status, source, created_ts, boot_id, mono_ns, "
            "clock_synced, site_day, updated_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', ?, ?, ?, ?, ?, ?, ?)",
            (number, values["kind"], values["category"], values["building"] or "", values["floor"] or "",
             values["area"] or "", values["description"], int(values["urgent"]), int(values["equipment_fault"]),
             int(rv), values["contact_name"], values["contact_phone"], source[:64], now.ts, now.boot_id, now.mono_ns,
             int(now.synced), self.ctx.site_day(now), now.ts))
        ticket = {"ticket_no": number, "kind": values["kind"], "urgent": values["urgent"],
                  "equipment_fault": values["equipment_fault"]}
        due: dict[str, str] = {}
        for clock in self.sla.clocks_for(values["kind"], values["urgent"], values["equipment_fault"]):
            due[clock] = self.sla.start(tx, ticket, clock, now)
        data: dict[str, Any] = {
            "ticket_no": number, "kind": values["kind"], "category": values["category"],
            "place": {"building": values["building"] or "", "floor": values["floor"] or "", "area": values["area"] or ""},
            "description": values["description"], "urgent": values["urgent"],
            "equipment_fault": values["equipment_fault"], "return_visit_required": rv, "source": source[:64],
            "created_at": now.ts, "due": due,
        }
        if not now.synced:  # the due times are guesses until NTP syncs: say so, and send the lengths
            data["due_provisional"] = True
            data["due_in_s"] = {name: round(secs, 3) for name, secs in tx.execute(
                "SELECT clock, due_in_s FROM sla_clocks WHERE ticket_no = ?", (number,)).fetchall()}
        contact: dict[str, Any] = {}
        if values["contact_name"] and self.ctx.cfg.privacy.name_in_events:
            contact["name"] = values["contact_name"]
        if values["contact_phone"]:
            privacy = self.ctx.cfg.privacy
            contact["phone"] = mask_phone(values["contact_phone"]) if privacy.mask_phone_in_events else values["contact_phone"]
            contact["phone_masked"] = privacy.mask_phone_in_events
        if contact:
            data["contact"] = contact
        tx.emit("ticket", "ticket.created", data)
        return number

    # -------------------------------------------------------------- reading

    def get(self, number: str) -> TicketView | None:
        found = self.ctx.store.query("SELECT * FROM tickets WHERE ticket_no = ?", (number,))
        if not found:
            return None
        t = found[0]
        replies = [Reply(r["reply"], self.ctx.local(r["ts"])) for r in self.ctx.store.query(
            "SELECT reply, ts FROM ticket_updates WHERE ticket_no = ? AND reply IS NOT NULL ORDER BY id", (number,))]
        clocks = [ClockView(c["clock"], *CLOCKS[c["clock"]], self.ctx.local(c["due_ts"]), c["state"], bool(c["overdue"]),
                            c["anchored"] == 0, c["due_in_s"], c["level"], c["basis"] == "estimated")
                  for c in self.ctx.store.query("SELECT * FROM sla_clocks WHERE ticket_no = ? ORDER BY due_ts",
                                                (number,))]
        kz, ke = KINDS[t["kind"]]
        cz, ce = category_label(t["category"])
        sz, se = STATUSES[t["status"]]
        place = " / ".join(p for p in (t["building"], t["floor"], t["area"]) if p)
        initial = [c for c in clocks if c.clock not in ("return_visit", "next_reply", "verdict_reply")]
        return TicketView(t["ticket_no"], t["kind"], kz, ke, t["category"], cz, ce, place, t["description"],
                          bool(t["urgent"]), t["status"], sz, se, self.ctx.local(t["created_ts"]), replies, clocks,
                          promise(t, initial, self.ctx.cfg.service))

    def lookup(self, entered: object, now: Instant | None = None) -> Outcome[TicketView]:
        """A person typed their ticket number: status and replies, or a clear message. Rate-limited."""
        now = self.ctx.now(now)
        wait = self.limiter.wait_s(now)
        if wait is not None:
            return Outcome.failure("rate_limited", please_wait(wait))
        code = read_code(entered)
        view = None
        if code is not None and all(c in ALPHABET for c in code) and 4 <= len(code) <= 16:
            view = self.get(code)
        if view is None:
            self.limiter.failed(now)
            return Outcome.failure("not_found", NOT_FOUND)
        return Outcome.success("found", Message(
            "status", f"您好，单号 {view.ticket_no} 的当前状态：{view.status_zh}。",
            f"Hello, ticket {view.ticket_no} is now: {view.status_en}."), view)

    def check_overdue(self, now: Instant | None = None) -> CheckReport:
        """For the gateway's minute timer: re-anchor, raise, escalate and clear SLA alerts (escalation.py)."""
        return self.escalator.check(now)

    # -------------------------------------------------------------- printing

    def print_receipt(self, number: str) -> Outcome[Any]:
        from drivers.printer import TicketReceipt

        view = self.get(number)
        if view is None:
            return Outcome.failure("not_found", NOT_FOUND)
        if self.ctx.printer is None:
            return Outcome.failure("no_printer", Message(
                "no_printer", f"本机没有打印机，请记下您的单号：{number}。谢谢！",
                f"There is no printer here; please note your ticket number: {number}. Thank you."))
        running = [c for c in view.clocks if c.state == "running"] or view.clocks
        first = min(running, key=lambda c: c.due, default=None)
        deadline, within = (first.due, "") if first is not None and not first.provisional else (None, "")
        if first is not None and first.provisional:  # an unsynced clock: a duration, never a wrong time of day
            zh, en = duration_text(first.within_s)
            within = f"{zh}内 within {en}"
        receipt = TicketReceipt(ticket_number=number, promise_text=view.promise.text("\n"), deadline=deadline,
                                kind_label=f"{view.kind_zh} {view.kind_en.capitalize()}", within=within)
        try:
            result = self.ctx.printer.print_ticket(receipt)
        except Exception as exc:  # the driver promises not to raise; a bug there must not lose the number
            log.error("receipt for ticket %s: printer driver failed: %s", number, type(exc).__name__)
            return Outcome.failure("print_held", print_message(False, "回执", "receipt"))
        if result.printed:
            return Outcome.success("printed", print_message(True, "回执", "receipt"), result)
        return Outcome.failure("print_held", Message(
            "print_held", f"对不起，打印机暂时无法打印（可能缺纸）。请记下您的单号：{number}，或到前台领取回执。",
            f"Sorry, the printer cannot print right now (it may be out of paper). Please note your ticket number, "
            f"{number}, or collect the receipt at the front desk."), value=result)

    # -------------------------------------------------------------- central's ticket.update

    def apply_update_tx(self, tx: Transaction, data: dict[str, Any], command_id: str | None = None,
                        now: Instant | None = None) -> dict[str, Any]:
        """Central's ticket.update through the state machine (ticket_updates.py)."""
        return self.updates.apply_update_tx(tx, data, command_id, now)
