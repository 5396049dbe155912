"""Tickets: complaints, repairs, suggestions, praise, enquiries and incident reports.

A ticket gets a number the person can read out (tickets.number_length symbols,
no 0/O/1/I/L), its SLA clocks (sla.py) and a promise in words built from the
same numbers. Central moves it on with ticket.update (status and replies);
the kiosk looks it up by number (rate-limited) to show status and replies.

What goes to central: ticket.created carries the number, kind, category,
place, description, urgent/equipment flags, source, due times and, if the
person left one, the contact name (omitted when privacy.name_in_events is
false) and phone (masked unless privacy.mask_phone_in_events is false).
ticket.updated carries the number, the status change, whether a reply was
recorded (not its text: central wrote it) and the assignee.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from mqtt_bridge.commands.intake import CommandRejected, command_time
from mqtt_bridge.store import StoreError, Transaction

from mqtt_bridge.clock import Instant
from lobby.services.codes import ALPHABET, random_code, read_code
from lobby.services.context import ServiceContext, row, store_failure
from lobby.services.messages import CHECK_FORM, FieldError, Message, Outcome, ValidationFailed, print_message, please_wait
from lobby.services.phone import mask_phone, normalise_phone
from lobby.services.sla import CLOCKS, CheckReport, SlaClocks, duration_text
from lobby.services.text import Label, clean_choice, clean_company, clean_free_text, clean_name

log = logging.getLogger(__name__)

KINDS: dict[str, tuple[str, str]] = {
    "complaint": ("投诉", "complaint"),
    "repair": ("报修", "repair request"),
    "suggestion": ("建议", "suggestion"),
    "praise": ("表扬", "compliment"),
    "enquiry": ("咨询", "enquiry"),
    "incident": ("报事", "incident report"),
}
CATEGORY_LABELS: dict[str, tuple[str, str]] = {
    "engineering": ("工程维修", "Engineering"), "security": ("安保", "Security"), "cleaning": ("保洁", "Cleaning"),
    "greening": ("绿化", "Landscaping"), "parking": ("停车", "Parking"), "noise": ("噪音", "Noise"),
    "developer": ("开发商遗留问题", "Developer issue"), "other": ("其他", "Other"),
}
STATUSES: dict[str, tuple[str, str]] = {
    "received": ("已受理", "Received"),
    "assigned": ("已派单", "Assigned to staff"),
    "on_site": ("处理中（已到场）", "Staff on site"),
    "done": ("已完成", "Done"),
    "return_visit_done": ("已回访", "Follow-up call made"),
    "closed": ("已办结", "Closed"),
}
# Forward moves only; skipping steps is allowed (an enquiry answered at once, or an invalid complaint,
# goes straight to closed). done -> closed needs the return visit first where one is required.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "received": ("assigned", "on_site", "done", "closed"),
    "assigned": ("assigned", "on_site", "done", "closed"),
    "on_site": ("done",),
    "done": ("return_visit_done", "closed"),
    "return_visit_done": ("closed",),
    "closed": (),
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


@dataclass(frozen=True)
class Reply:
    text: str
    at: dt.datetime  # site-local


@dataclass(frozen=True)
class ClockView:
    clock: str
    label_zh: str
    label_en: str
    due: dt.datetime  # site-local
    state: str  # running / met / cancelled
    overdue: bool


@dataclass(frozen=True)
class TicketView:
    ticket_no: str
    kind: str
    kind_zh: str
    kind_en: str
    category: str
    category_zh: str
    category_en: str
    place: str
    description: str
    urgent: bool
    status: str
    status_zh: str
    status_en: str
    created: dt.datetime  # site-local
    replies: list[Reply]
    clocks: list[ClockView]
    promise: Message


def category_label(category: str) -> tuple[str, str]:
    return CATEGORY_LABELS.get(category, (category, category))


class TicketService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.sla = SlaClocks(ctx)
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
        rv = self.sla.return_visit_required(values["kind"], number)
        tx.execute(
            "INSERT INTO tickets (ticket_no, kind, category, building, floor, area, description, urgent, equipment_fault, "
            "return_visit_required, contact_name, contact_phone, status, source, created_ts, boot_id, mono_ns, "
            "clock_synced, site_day, updated_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', ?, ?, ?, ?, ?, ?, ?)",
            (number, values["kind"], values["category"], values["building"] or "", values["floor"] or "",
             values["area"] or "", values["description"], int(values["urgent"]), int(values["equipment_fault"]),
             int(rv), values["contact_name"], values["contact_phone"], source[:64], now.ts, now.boot_id, now.mono_ns,
             int(now.synced), self.ctx.site_day(now), now.ts))
        due: dict[str, str] = {}
        for plan in self.sla.plan(values["kind"], values["urgent"], values["equipment_fault"], now):
            due[plan.clock] = self.sla.start(tx, number, plan.clock, plan.seconds, now)
        data: dict[str, Any] = {
            "ticket_no": number, "kind": values["kind"], "category": values["category"],
            "place": {"building": values["building"] or "", "floor": values["floor"] or "", "area": values["area"] or ""},
            "description": values["description"], "urgent": values["urgent"],
            "equipment_fault": values["equipment_fault"], "return_visit_required": rv, "source": source[:64],
            "created_at": now.ts, "due": due,
        }
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

    # -------------------------------------------------------------- promise

    def promise(self, ticket: dict[str, Any], clocks: list[ClockView]) -> Message:
        """The promise in words, from the same numbers as the clocks (bilingual)."""
        kind, number = ticket["kind"], ticket["ticket_no"]
        kind_zh, kind_en = KINDS[kind]
        zh_parts, en_parts = [], []
        due = {c.clock: c for c in clocks}
        svc = self.ctx.cfg.service
        if "on_site" in due:
            minutes = svc.urgent_onsite_min if ticket["urgent"] else svc.equipment_fault_onsite_min
            zh, en = duration_text(minutes * 60)
            zh_parts.append(f"工作人员将在{zh}内到场。")
            en_parts.append(f"Staff will be on site within {en}.")
        if "completion" in due:
            c = due["completion"]
            created = self.ctx.local(ticket["created_ts"])
            if (c.due - created).total_seconds() < svc.repair_complete_h * 3600 - 60:
                zh_parts.append(f"维修将于今天{c.due:%H:%M}前完成（不过夜）。")
                en_parts.append(f"The repair will be finished today by {c.due:%H:%M}.")
            else:
                zh, en = duration_text(svc.repair_complete_h * 3600)
                zh_parts.append(f"维修将在{zh}内完成。")
                en_parts.append(f"The repair will be finished within {en}.")
        if "first_reply" in due:
            hours = (min(svc.complaint_reply_h, svc.invalid_complaint_reply_h) if kind == "complaint"
                     else svc.general_reply_h)
            zh, en = duration_text(hours * 3600)
            zh_parts.append(f"我们将在{zh}内答复您。")
            en_parts.append(f"We will reply to you within {en}.")
        return Message("created", f"您好，您的{kind_zh}已登记，单号 {number}。{''.join(zh_parts)}谢谢您的反馈！",
                       f"Hello, your {kind_en} has been recorded as number {number}. {' '.join(en_parts)} "
                       f"Thank you for telling us.")

    # -------------------------------------------------------------- reading

    def get(self, number: str) -> TicketView | None:
        found = self.ctx.store.query("SELECT * FROM tickets WHERE ticket_no = ?", (number,))
        if not found:
            return None
        t = found[0]
        replies = [Reply(r["reply"], self.ctx.local(r["ts"])) for r in self.ctx.store.query(
            "SELECT reply, ts FROM ticket_updates WHERE ticket_no = ? AND reply IS NOT NULL ORDER BY id", (number,))]
        clocks = [ClockView(c["clock"], *CLOCKS[c["clock"]], self.ctx.local(c["due_ts"]), c["state"], bool(c["overdue"]))
                  for c in self.ctx.store.query("SELECT * FROM sla_clocks WHERE ticket_no = ? ORDER BY due_ts",
                                                (number,))]
        kz, ke = KINDS[t["kind"]]
        cz, ce = category_label(t["category"])
        sz, se = STATUSES[t["status"]]
        place = " / ".join(p for p in (t["building"], t["floor"], t["area"]) if p)
        initial = [c for c in clocks if c.clock != "return_visit" and c.clock != "next_reply"]
        return TicketView(t["ticket_no"], t["kind"], kz, ke, t["category"], cz, ce, place, t["description"],
                          bool(t["urgent"]), t["status"], sz, se, self.ctx.local(t["created_ts"]), replies, clocks,
                          self.promise(t, initial))

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
        """For the gateway's minute timer: raise/clear SLA overdue alerts (see sla.SlaClocks)."""
        return self.sla.check_overdue(now)

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
        first_due = min((c.due for c in view.clocks), default=view.created)
        receipt = TicketReceipt(ticket_number=number, promise_text=view.promise.text("\n"), deadline=first_due,
                                kind_label=f"{view.kind_zh} {view.kind_en.capitalize()}")
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
        now = self.ctx.now(now)
        number = data["ticket_no"]
        ticket = row(tx, "SELECT * FROM tickets WHERE ticket_no = ?", (number,))
        if ticket is None:
            raise CommandRejected(f"there is no ticket {number} at this gateway")
        current = ticket["status"]
        target = data.get("status", current)
        if target != current and target not in TRANSITIONS[current] or (target == current == "closed" and "reply" in data):
            allowed = ", ".join(TRANSITIONS[current]) or "none (the ticket is closed)"
            raise CommandRejected(f"ticket {number} cannot move from {current} to {target}; allowed next: {allowed}")
        needs_return_visit = bool(ticket["return_visit_required"]) and data.get("valid") is not False
        if target == "closed" and current == "done" and needs_return_visit:
            raise CommandRejected(f"ticket {number} needs its return visit first (status return_visit_done), "
                                  f"then it can be closed")
        reply = None
        if "reply" in data:
            try:
                reply = clean_free_text(data["reply"], field="reply", max_len=1000)
            except ValidationFailed as exc:
                raise CommandRejected(f"reply: {exc.errors[0].en}") from None
        assignee = ticket["assignee"]
        if "assignee" in data:
            try:
                assignee = clean_company(data["assignee"], field="assignee", max_len=64, required=True)
            except ValidationFailed as exc:
                raise CommandRejected(f"assignee: {exc.errors[0].en}") from None
        valid = data.get("valid")
        if valid is not None and ticket["kind"] != "complaint":
            raise CommandRejected(f"ticket {number} is a {ticket['kind']}, not a complaint: only complaints are judged valid")
        next_reply_by = data.get("next_reply_by")
        next_reply_due = None if next_reply_by is None else command_time(next_reply_by, "next_reply_by")
        if next_reply_due is not None:
            if next_reply_due <= now.wall:
                raise CommandRejected("next_reply_by must be in the future")

        tx.execute("INSERT INTO ticket_updates (ticket_no, ts, status_from, status_to, reply, assignee, next_reply_by, "
                   "source, command_id) VALUES (?, ?, ?, ?, ?, ?, ?, 'central', ?)",
                   (number, now.ts, current, target, reply, assignee if "assignee" in data else None,
                    next_reply_by, command_id))
        tx.execute("UPDATE tickets SET status = ?, assignee = ?, updated_ts = ?, "
                   "done_ts = CASE WHEN ? = 'done' AND done_ts IS NULL THEN ? ELSE done_ts END, "
                   "closed_ts = CASE WHEN ? = 'closed' THEN ? ELSE closed_ts END WHERE ticket_no = ?",
                   (target, assignee, now.ts, target, now.ts, target, now.ts, number))
        rv_changed = self._verdict(tx, ticket, valid, now) if valid is not None else None
        self._clocks_after(tx, number, current, target, reply is not None, next_reply_due, now)
        event: dict[str, Any] = {"ticket_no": number, "status": target, "previous_status": current,
                                 "reply_recorded": reply is not None, "source": "central", "updated_at": now.ts}
        if valid is not None:
            event["valid"] = valid
        if rv_changed is not None:
            event["return_visit_required"] = rv_changed
        if "assignee" in data:
            event["assignee"] = assignee
        if next_reply_by is not None:
            event["next_reply_by"] = tx.execute("SELECT due_ts FROM sla_clocks WHERE ticket_no = ? AND clock = "
                                                "'next_reply'", (number,)).fetchone()[0]
        tx.emit("ticket", "ticket.updated", event)
        return {"ticket_no": number, "status": target, "previous_status": current}

    def _verdict(self, tx: Transaction, ticket: dict[str, Any], valid: bool, now: Instant) -> bool | None:
        """Record central's verdict on a complaint. DOMAIN: every valid complaint gets a return
        visit; an invalid one still gets its reply in time (those clocks run on) but no return
        visit. Returns the new return_visit_required when the verdict changed it, else None."""
        number = ticket["ticket_no"]
        required = bool(ticket["return_visit_required"])
        if not valid:
            new_required = False
        elif required:
            new_required = True
        else:  # judged valid after an invalid verdict: the return visit is owed again
            new_required = self.sla.return_visit_required("complaint", number)
        tx.execute("UPDATE tickets SET complaint_valid = ?, return_visit_required = ? WHERE ticket_no = ?",
                   (int(valid), int(new_required), number))
        if required and not new_required:
            self.sla.finish(tx, number, ("return_visit",), now, state="cancelled")
        elif new_required and not required and ticket["status"] == "done":
            self.sla.start_return_visit(tx, number, now)
        return new_required if new_required != required else None

    def _clocks_after(self, tx: Transaction, number: str, current: str, target: str, replied: bool,
                      next_reply_due: dt.datetime | None, now: Instant) -> None:
        sla = self.sla
        if replied:
            sla.finish(tx, number, ("first_reply", "next_reply"), now)
        if target in ("on_site", "done", "return_visit_done"):
            sla.finish(tx, number, ("on_site",), now)
        if target in ("done", "return_visit_done"):
            sla.finish(tx, number, ("completion", "first_reply"), now)
        if target == "done" and current != "done":
            required = tx.execute("SELECT return_visit_required FROM tickets WHERE ticket_no = ?",
                                  (number,)).fetchone()[0]
            if required:
                sla.start_return_visit(tx, number, now)
        if target == "return_visit_done":
            sla.finish(tx, number, ("return_visit",), now)
        if target == "closed":
            sla.finish(tx, number, tuple(CLOCKS), now, state="cancelled")
        elif next_reply_due is not None:
            sla.start(tx, number, "next_reply", (next_reply_due - now.wall).total_seconds(), now)

