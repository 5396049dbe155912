"""Complaints and repairs (投诉/报修), and tracking a ticket by its number.

kind -> category -> place (building / floor / area from [places]) -> description
(pinyin or Latin) -> urgent? (repairs and incident reports) -> contact name and phone
(optional) -> read back -> the ticket number and the promise with its deadline (the
service's message), printable as a receipt.
"""

from __future__ import annotations

from typing import Any

from kivy.properties import ListProperty, StringProperty

from kiosk import i18n
from kiosk.flows import TICKET_FIELD_STEPS, next_step
from kiosk.formflow import FormFlow
from lobby.services import KINDS
from lobby.services.tickets import CATEGORY_LABELS, URGENT_KINDS
from kiosk.widgets import KScreen

from kiosk.screens.common import ChoiceScreen, ConfirmScreen, ResultScreen, TextScreen

KIND_ORDER = ("repair", "complaint", "incident", "enquiry", "suggestion", "praise")
KIND_ICONS = {"repair": "build", "complaint": "report", "incident": "warning", "enquiry": "help",
              "suggestion": "lightbulb", "praise": "thumb_up"}
CATEGORY_ICONS = {"engineering": "engineering", "security": "security", "cleaning": "cleaning_services",
                  "greening": "park", "parking": "local_parking", "noise": "volume_up", "developer": "domain",
                  "other": "more_horiz"}
UNSURE = "?"  # the floor chosen as "not sure" (distinct from nothing chosen yet)


def split_label(label: str) -> tuple[str, str]:
    """A place written "消防楼梯 Fire stairs" as (zh, en): shown on two lines, one language each, never broken
    inside one; a label in one language only is (label, label)."""
    words = label.split(" ")
    for i in range(1, len(words)):
        head, tail = " ".join(words[:i]), " ".join(words[i:])
        if any(ord(c) > 0x2E7F for c in head) and not any(ord(c) > 0x2E7F for c in tail):
            return head, tail
    return label, label


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


class PlaceScreen(KScreen):
    error_zh = StringProperty("")
    error_en = StringProperty("")
    building = StringProperty("")
    floor = StringProperty("")
    area = StringProperty("")
    buildings = ListProperty([])

    def __init__(self, flow: TicketFlow, **kw: Any) -> None:
        super().__init__(title_key="tk.title", **kw)
        self.flow = flow
        self.buildings = list(flow.app.cfg.places.buildings)

    def refresh(self) -> None:
        d = self.flow.d
        self.building = d.building or (self.buildings[0] if len(self.buildings) == 1 else "")
        self.floor = d.floor or (UNSURE if self.flow.editing and d.kind and not d.floor else "")
        self.area = d.area or ""
        self._draw()

    def _draw(self) -> None:
        """Nothing looks chosen until the visitor chose it ("not sure" included)."""
        places = self.flow.app.cfg.places
        unsure = i18n.pair("tk.place.unsure")
        self.ids.buildings.show([{"zh": b, "only": True, "value": b, "tid": f"building_{i}",
                                  "style": "selected" if b == self.building else "choice"}
                                 for i, b in enumerate(places.buildings)], self.set_building)
        self.ids.floors.show([{"zh": f, "only": True, "value": f, "tid": f"floor_{i}",
                               "style": "selected" if f == self.floor else "choice"}
                              for i, f in enumerate(places.floors)]
                             + [{"zh": unsure[0], "en": unsure[1], "value": UNSURE, "tid": "floor_unsure",
                                 "style": "selected" if self.floor == UNSURE else "choice"}], self.set_floor)
        self.ids.areas.show([{"zh": zh, "en": en, "only": zh == en, "value": a, "tid": f"area_{i}",
                              "style": "selected" if a == self.area else "choice"}
                             for i, a in enumerate(places.areas) for zh, en in [split_label(a)]], self.set_area)

    def set_building(self, value: str) -> None:
        self.building = value
        self._draw()

    def set_floor(self, value: str) -> None:
        self.floor = value
        self._draw()

    def set_area(self, value: str) -> None:
        self.area = "" if value == self.area else value
        self._draw()

    def submit(self) -> None:
        if self.begin():
            floor = None if self.floor in ("", UNSURE) else self.floor
            self.flow.set_place(self.building or None, floor, self.area or None)

    def wipe(self) -> None:
        self.building = self.floor = self.area = ""
        self.error_zh = self.error_en = ""


class TrackResultScreen(KScreen):
    """A ticket looked up: its number, its status, every deadline still running (as large as the status:
    on site and done, say), and the replies; all on screen with Done below them."""

    number = StringProperty("")
    status_zh = StringProperty("")
    status_en = StringProperty("")
    replies = StringProperty("")
    dues = ListProperty([])  # [(zh, en)] of the running clocks, earliest first

    def __init__(self, **kw: Any) -> None:
        super().__init__(title_key="tr.title", **kw)

    def show(self, outcome: Any) -> None:
        view = outcome.value
        self.number = view.ticket_no
        self.status_zh, self.status_en = outcome.message.zh, outcome.message.en
        self.replies = "\n".join(f"{r.at:%m-%d %H:%M}  {r.text}" for r in view.replies)
        running = sorted((c for c in view.clocks if c.state == "running"), key=lambda c: c.due)
        self.dues = [c.due_text() for c in running]  # a duration ("2小时内") while the clock is unsynced
        box = self.ids.dues
        box.clear_widgets()
        from kiosk.widgets import KLabel

        for i, (zh, en) in enumerate(self.dues):
            box.add_widget(KLabel(tid=f"track_due_{i}", zh=zh, en=en, inline=True, icon="", role="body",
                                  halign="left"))

    def wipe(self) -> None:
        self.number = self.status_zh = self.status_en = self.replies = ""
        self.dues = []
        if "dues" in self.ids:
            self.ids.dues.clear_widgets()


class TicketFlow(FormFlow):
    confirm_step = "tk_confirm"
    field_steps = TICKET_FIELD_STEPS

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        t = app.cfg.tickets
        reg = app.register
        reg("tk_kind", lambda: ChoiceScreen(
            title_key="tk.title", question_key="tk.kind.question", cols=3, cols_portrait=2,
            choices=lambda: [{"zh": KINDS[k][0], "en": _cap(KINDS[k][1]), "value": k, "tid": f"kind_{k}",
                              "icon": KIND_ICONS[k], "style": "selected" if k == self.d.kind else "choice"}
                             for k in KIND_ORDER],
            on_choose=self.set_kind))
        reg("tk_category", lambda: ChoiceScreen(
            title_key="tk.title", question_key="tk.category.question", cols=4, cols_portrait=2,
            choices=lambda: [{"zh": CATEGORY_LABELS.get(c, (c, c))[0], "en": CATEGORY_LABELS.get(c, (c, c))[1],
                              "value": c, "tid": f"category_{c}", "icon": CATEGORY_ICONS.get(c, ""),
                              "style": "selected" if c == self.d.category else "choice"}
                             for c in app.cfg.tickets.categories],
            on_choose=self.set_category))
        reg("tk_place", lambda: PlaceScreen(self))
        reg("tk_desc", lambda: TextScreen(
            title_key="tk.title", question_key="tk.desc.question", kind="text", max_length=t.description_max_len,
            load=lambda: self.d.description, done=lambda text: self.set_field("description", text, "tk_desc")))
        reg("tk_urgent", lambda: ChoiceScreen(
            title_key="tk.title", question_key="tk.urgent.question", cols=2, cols_portrait=1,
            choices=[{"key": "tk.urgent.yes", "value": True, "tid": "urgent_yes", "style": "danger",
                      "icon": "priority_high"},
                     {"key": "tk.urgent.no", "value": False, "tid": "urgent_no", "style": "primary", "icon": "schedule"}],
            on_choose=lambda value: self.set_field("urgent", bool(value), "tk_urgent")))
        reg("tk_contact_name", lambda: TextScreen(
            title_key="tk.title", question_key="tk.contact.name", kind="name", max_length=t.contact_name_max_len,
            optional=True, load=lambda: self.d.contact_name,
            done=lambda text: self.set_field("contact_name", text or None, "tk_contact_name")))
        reg("tk_contact_phone", lambda: TextScreen(
            title_key="tk.title", question_key="tk.contact.phone", kind="phone", max_length=16, optional=True,
            load=lambda: self.d.contact_phone,
            done=lambda text: self.set_field("contact_phone", text or None, "tk_contact_phone")))
        reg("tk_confirm", lambda: ConfirmScreen(
            title_key="tk.title", heading_key="tk.confirm.title", lines=self.lines, submit=self.submit,
            change=self.change))
        reg("tk_done", lambda: ResultScreen(title_key="tk.title", show_back=False, heading_key="tk.done.title",
                                            big_label_key="tk.done.number", on_action=self.action))
        reg("tr_entry", lambda: TextScreen(
            title_key="tr.title", question_key="tr.question", kind="code", max_length=16, layouts=("en", "digits"),
            done=self.lookup))
        reg("tr_result", lambda: TrackResultScreen())

    @property
    def d(self) -> Any:
        return self.app.drafts.ticket

    def position(self, screen: str) -> tuple[int, int] | None:
        if screen in ("tr_entry", "tr_result"):
            return None
        steps = self.d.steps()
        if screen == "tk_urgent" and screen not in steps:
            steps = steps[:4] + ["tk_urgent"] + steps[4:]
        return (steps.index(screen) + 1, len(steps)) if screen in steps else None

    # ------------------------------------------------------------------ steps

    def advance(self, current: str) -> None:
        if self.editing:
            if current == "tk_kind" and self.d.kind in URGENT_KINDS and current != "tk_urgent":
                self.app.go("tk_urgent")
                return
            self.app.go("tk_confirm")
            return
        self.app.go(next_step(self.d.steps(), current))

    def set_kind(self, kind: str) -> None:
        self.d.kind = kind
        if kind not in URGENT_KINDS:
            self.d.urgent = False
        self.advance("tk_kind")

    def set_category(self, category: str) -> None:
        self.d.category = category
        self.advance("tk_category")

    def set_place(self, building: str | None, floor: str | None, area: str | None) -> None:
        self.d.building, self.d.floor, self.d.area = building, floor, area
        self.advance("tk_place")

    def set_field(self, field: str, value: Any, step: str) -> None:
        setattr(self.d, field, value)
        self.advance(step)

    # ------------------------------------------------------------------ confirm, submit, print

    def lines(self) -> list[tuple[str, str, str, str]]:
        d = self.d
        none_zh, none_en = i18n.pair("tk.confirm.none")
        kind = KINDS.get(d.kind or "", ("", ""))
        cat = CATEGORY_LABELS.get(d.category or "", (d.category or "", d.category or ""))
        place = " / ".join(p for p in (d.building, d.floor, d.area) if p) or f"{none_zh} {none_en}"
        out = [(*i18n.pair("tk.confirm.kind"), f"{kind[0]} {_cap(kind[1])}", "tk_kind"),
               (*i18n.pair("tk.confirm.category"), f"{cat[0]} {cat[1]}", "tk_category"),
               (*i18n.pair("tk.confirm.place"), place, "tk_place"),
               (*i18n.pair("tk.confirm.desc"), d.description or "", "tk_desc")]
        if d.kind in URGENT_KINDS:
            yes = i18n.pair("tk.urgent.yes" if d.urgent else "tk.urgent.no")
            out.append((*i18n.pair("tk.confirm.urgent"), f"{yes[0]} {yes[1]}", "tk_urgent"))
        out.append((*i18n.pair("tk.confirm.contact"), d.contact_name or f"{none_zh} {none_en}", "tk_contact_name"))
        out.append((*i18n.pair("tk.confirm.phone"), d.contact_phone or f"{none_zh} {none_en}", "tk_contact_phone"))
        return out

    def submit(self) -> None:
        self.app.worker.run(self.app.services.tickets.create, self.d.form(), then=self.created)

    def created(self, outcome: Any) -> None:
        if self.refused(outcome):
            return
        self.wipe_screens("tk_desc", "tk_contact_name", "tk_contact_phone")
        self.d.scrub()
        self.d.ticket_no = outcome.value.ticket_no
        done = self.app.screen("tk_done")
        done.big_value = outcome.value.ticket_no
        done.set_message(outcome.message)
        done.status_zh = done.status_en = ""
        actions = []
        if self.app.rt.printer is not None:
            actions.append({"key": "tk.done.print", "value": "print", "style": "primary", "tid": "print"})
        actions.append({"key": "common.done", "value": "home", "style": "secondary", "tid": "finish"})
        done.actions = actions
        self.app.history.clear()
        self.app.replace("tk_done")
        self.app.event("ticket_created")

    def action(self, value: str) -> None:
        number = self.d.ticket_no
        if value == "print" and number:
            done = self.app.screen("tk_done")
            done.status_zh, done.status_en = i18n.pair("common.wait")
            self.app.worker.run(self.app.services.tickets.print_receipt, number, then=self.printed)

    def printed(self, outcome: Any) -> None:
        done = self.app.screen("tk_done")
        done.status_zh, done.status_en = outcome.message.zh, outcome.message.en
        self.app.event("receipt_print", status=outcome.status)

    # ------------------------------------------------------------------ tracking

    def lookup(self, number: str) -> None:
        outcome = self.app.services.tickets.lookup(number)
        entry = self.app.screen("tr_entry")
        if not outcome.ok:
            entry.show_error(outcome.message.zh, outcome.message.en)
            return
        entry.wipe()
        self.app.screen("tr_result").show(outcome)
        self.app.go("tr_result")
