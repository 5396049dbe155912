"""Visitor check-in: one question per screen, read back, then the pass and the host's answer.

Walk-in:   name -> mobile -> host (search as you type) -> purpose and party size (one screen)
           -> [company (optional) and work permit: contractors] -> privacy consent -> confirm -> pass
Invited:   "I have an invitation code" on the name screen (or the QR code scanned there) -> code
           -> invitation read back -> [permit] -> consent -> pass

Each step is checked with `services.visitors.validate` (only the field of that step is
reported) so the visitor hears of a problem where it can be fixed; the full form is
validated again by `check_in`, whose field errors send the visitor back to that step.
"""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk import i18n
from kiosk.flows import CHECKIN_FIELD_STEPS, next_step
from kiosk.formflow import FormFlow
from kiosk.ime.keyboard import TextEntry
from kiosk.ime.widgets import EntryDisplay
from lobby.services import PURPOSES, Message
from lobby.services.phone import mask_phone
from kiosk.widgets import KScreen

from kiosk.screens.common import ChoiceScreen, ConfirmScreen, ResultScreen, TextScreen, show_field_error

PURPOSE_ICONS = {"meeting": "handshake", "delivery": "local_shipping", "interview": "work",
                 "contractor": "construction", "viewing": "apartment", "other": "more_horiz"}

HOST_POLL_S = 3.0


class HostScreen(KScreen):
    """Whom the visitor visits: the directory, narrowed as the visitor types."""

    typing = BooleanProperty(False)
    error_zh = StringProperty("")
    error_en = StringProperty("")
    none_found = BooleanProperty(False)

    def __init__(self, flow: CheckInFlow, **kw: Any) -> None:
        super().__init__(title_key="ci.title", **kw)
        self.flow = flow
        self.entry: TextEntry | None = None
        self.display = EntryDisplay(font_name=self.app.font_file or "Roboto", markup=True)
        self.display.tid = "search"
        self.display.font_size = self.app.fs
        Clock.schedule_once(self._place, 0)

    def _place(self, _dt: float) -> None:
        self.ids.search_holder.add_widget(self.display, index=len(self.ids.search_holder.children))

    def refresh(self) -> None:
        if self.entry is None:
            self.entry = TextEntry(kind="text", max_length=40, layouts=("en", "zh", "digits"))
        self.display.placeholder = self.app.t("ci.host.search", self.app.lang)
        self.display.entry = None
        self.display.entry = self.entry
        if self.typing:
            self.set_typing(True)
        self.search(self.entry.text)

    def on_touch_down(self, touch: Any) -> bool:
        if self.display.collide_point(*self.display.to_widget(*touch.pos, relative=False)) and not self.typing:
            self.set_typing(True)
            return True
        return super().on_touch_down(touch)

    def set_typing(self, on: bool) -> None:
        self.typing = on
        keyboard = self.app.keyboard
        if on and self.entry is not None:
            keyboard.attach(self, self.ids.kb_holder, self.entry, on_text=self.search,
                            on_submit=lambda: self.set_typing(False))
        else:
            keyboard.detach(self)

    def search(self, text: str) -> None:
        hosts = self.app.services.hosts(text or "")[:24]
        self.none_found = not hosts
        self.ids.results.show([{"zh": h.label, "only": True, "value": h.id, "tid": f"host_{i}",
                                "style": "selected" if h.id == self.flow.d.host_id else "choice"}
                               for i, h in enumerate(hosts)], self.choose)
        self.ids.scroll.scroll_y = 1

    def choose(self, host_id: str) -> None:
        if not self.begin():
            return
        self.set_typing(False)
        self.flow.set_host(host_id)

    def wipe(self) -> None:
        if self.entry is not None:
            self.entry.clear()
        self.app.keyboard.detach(self)
        self.display.entry = None
        self.display.text = ""
        self.entry = None
        self.set_typing(False)
        self.ids.results.clear()
        self.error_zh = self.error_en = ""


class PartyStepper(BoxLayout):
    """How many people visit, on the purpose screen: − count +, 1 unless the visitor says more."""

    count = NumericProperty(1)
    maximum = NumericProperty(20)

    def __init__(self, flow: CheckInFlow, **kw: Any) -> None:
        super().__init__(**kw)
        self.flow = flow
        self.maximum = flow.cfg.visitors.max_party_size

    def refresh(self) -> None:
        self.count = self.flow.d.party_size or 1

    def step(self, delta: int) -> None:
        self.count = max(1, min(int(self.maximum), int(self.count) + delta))
        self.flow.d.party_size = int(self.count)


class ConsentScreen(KScreen):
    days = NumericProperty(30)

    def __init__(self, flow: CheckInFlow, **kw: Any) -> None:
        super().__init__(title_key="ci.title", **kw)
        self.flow = flow
        self.days = flow.cfg.privacy.visitor_retention_days

    def agree(self) -> None:
        if self.begin():
            self.flow.consent(True)

    def decline(self) -> None:
        if self.begin():
            self.flow.consent(False)


class CheckinDoneScreen(ResultScreen):
    """The pass: number and message, print or pass card, then the host's answer."""

    def __init__(self, flow: CheckInFlow, **kw: Any) -> None:
        super().__init__(on_action=self.action, title_key="ci.title", show_back=False, **kw)
        self.flow = flow
        self.visit_id: str | None = None
        self._poll: Any = None
        self._base_status: tuple[str, str] = ("", "")
        self._printing = False

    def show_visit(self, outcome: Any) -> None:
        view = outcome.value
        self.visit_id = view.visit_id if view is not None and outcome.status != "held" else None
        self.set_message(outcome.message)
        if outcome.status == "held":
            self.heading_key, self.style, self.big_value = "ci.held.title", "warn", ""
            self.actions = [{"key": "ci.done.finish", "value": "home", "style": "secondary", "tid": "finish"}]
            self._base_status = ("", "")
        else:
            self.heading_key, self.style = "ci.done.title", "ok"
            self.big_label_key = "ci.done.pass"
            self.big_value = view.pass_no or "" if view is not None else ""
            actions = []
            if self.app.rt.printer is not None:
                actions.append({"key": "ci.done.print", "value": "print", "style": "primary", "tid": "print"})
            if self.app.rt.readers:
                actions.append({"key": "ci.done.card", "value": "card", "style": "primary", "tid": "card"})
            actions.append({"key": "ci.done.finish", "value": "home", "style": "secondary", "tid": "finish"})
            self.actions = actions
            self._base_status = i18n.pair("ci.done.wait_host")
            self.message_zh = self.message_en = ""  # it says the pass number and "host notified" once more
        self.status_zh, self.status_en = self._base_status
        self._printing = False

    def refresh(self) -> None:
        super().refresh()
        if self._poll is None and self.visit_id:
            self._poll = Clock.schedule_interval(lambda dt: self._check_host(), HOST_POLL_S)

    def on_leave(self, *args: Any) -> None:
        super().on_leave(*args)
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None
        self.app.link_visit_id = None

    def _check_host(self) -> None:
        if self.visit_id:
            self.app.worker.run(self.app.services.visitors.get, self.visit_id, then=self._host_status)

    def _host_status(self, view: Any) -> None:
        if view is None or view.host_ack is None:
            return
        ack = view.host_ack
        zh, en = i18n.pair("ci.done.host_coming")
        if ack.eta_min:
            zh, en = i18n.pair("ci.done.host_eta", n=ack.eta_min)
        if ack.message:
            pz, pe = i18n.pair("ci.done.host_says")
            zh, en = f"{zh}\n{pz}{ack.message}", f"{en}\n{pe}{ack.message}"
        if (zh, en) != (self.status_zh, self.status_en):
            self.status_zh, self.status_en = zh, en
            self.app.event("host_ack_shown")

    def action(self, value: str) -> None:
        if not self.visit_id:
            return
        if value == "print":
            if self._printing:  # a second tap while it prints: one badge
                return
            self._printing = True
            self.status_zh, self.status_en = i18n.pair("common.wait")
            self.app.worker.run(self.app.services.print_badge, self.visit_id, then=self._printed)
        elif value == "card":
            self.app.link_visit_id = self.visit_id
            self.status_zh, self.status_en = i18n.pair("ci.done.tap_now")

    def _printed(self, outcome: Any) -> None:
        self._printing = False
        self.status_zh, self.status_en = outcome.message.zh, outcome.message.en
        self.app.event("badge_print", status=outcome.status)

    def card_result(self, result: Any) -> None:
        """A card tapped while this screen waited for one (lobby/taps.py route 'link')."""
        if self.manager is None or self.manager.current != self.name:
            return
        self.status_zh, self.status_en = result.message.zh, result.message.en
        if result.ok:
            self.app.link_visit_id = None
        self.app.event("card_linked", ok=result.ok)

    def wipe(self) -> None:
        super().wipe()
        self.visit_id = None
        self.actions = []
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None


class CheckInFlow(FormFlow):
    confirm_step = "ci_confirm"
    field_steps = CHECKIN_FIELD_STEPS

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        v = self.cfg.visitors
        reg = app.register
        reg("ci_code", lambda: TextScreen(
            title_key="ci.title", question_key="ci.code.question", placeholder_key="ci.code.placeholder",
            kind="code", max_length=64,
            layouts=("digits", "en"), optional=True, skip_key="ci.code.walkin", scanner=True,
            done=self.code_done))
        reg("ci_invite", lambda: ConfirmScreen(
            title_key="ci.title", heading_key="ci.invite.title", lines=self.invite_lines,
            submit=self.invite_confirmed, change=lambda step: None))
        reg("ci_name", lambda: TextScreen(
            title_key="ci.title", question_key="ci.name.question", kind="name", max_length=v.name_max_len,
            load=lambda: self.d.name, done=lambda t: self.field_done("name", t, "ci_name"),
            alt={"key": "ci.start.invite", "tid": "invite", "icon": "qr_code_scanner"}, on_alt=self.have_code,
            scanner=True, scan=lambda code: self.code_done(code, scanned=True)))
        reg("ci_phone", lambda: TextScreen(
            title_key="ci.title", question_key="ci.phone.question", kind="phone", max_length=16,
            load=lambda: self.d.phone, done=lambda t: self.field_done("phone", t, "ci_phone")))
        reg("ci_host", lambda: HostScreen(self))
        reg("ci_purpose", self._purpose_screen)
        reg("ci_company", lambda: TextScreen(
            title_key="ci.title", question_key="ci.company.question", kind="text", max_length=v.company_max_len,
            optional=True, load=lambda: self.d.company,
            done=lambda t: self.field_done("company", t or None, "ci_company")))
        reg("ci_permit", lambda: TextScreen(
            title_key="ci.title", question_key="ci.permit.question", kind="code", max_length=v.permit_max_len,
            load=lambda: self.d.permit_no, done=self.permit_done))
        reg("ci_consent", lambda: ConsentScreen(self))
        reg("ci_confirm", lambda: ConfirmScreen(
            title_key="ci.title", heading_key="ci.confirm.title", lines=self.lines, submit=self.submit,
            change=self.change))
        reg("ci_done", lambda: CheckinDoneScreen(self))

    def _purpose_screen(self) -> ChoiceScreen:
        screen = ChoiceScreen(
            title_key="ci.title", question_key="ci.purpose.question", cols=3, cols_portrait=2,
            choices=lambda: [{"zh": zh, "en": en, "value": key, "tid": f"purpose_{key}", "icon": PURPOSE_ICONS.get(key, ""),
                              "style": "selected" if key == self.d.purpose else "choice"}
                             for key, (zh, en) in PURPOSES.items()],
            on_choose=self.set_purpose)
        stepper = PartyStepper(self)
        screen.ids.above.add_widget(stepper)
        screen.bind(on_pre_enter=lambda *_: stepper.refresh())
        return screen

    @property
    def d(self) -> Any:
        return self.app.drafts.checkin

    def position(self, screen: str) -> tuple[int, int] | None:
        """(step, steps) of a check-in screen for the step indicator."""
        steps = self.d.invitation_steps() if (self.d.invitation is not None or screen == "ci_code") \
            else self.d.steps()
        return (steps.index(screen) + 1, len(steps)) if screen in steps else None

    # ------------------------------------------------------------------ steps

    def start(self, how: str = "walkin") -> None:
        self.editing = False
        self.app.go("ci_code" if how == "invite" else "ci_name")

    def have_code(self) -> None:
        """"I have an invitation code" on the name screen."""
        self.editing = False
        self.app.go("ci_code")

    def set_purpose(self, purpose: str) -> None:
        if purpose != "contractor":
            self.d.permit_no = None  # a work permit belongs to contractor work
        self.field_done("purpose", purpose, "ci_purpose")

    def advance(self, current: str) -> None:
        if self.editing and current != "ci_purpose":
            self.app.go("ci_confirm")
            return
        if self.editing and current == "ci_purpose":
            self.app.go("ci_permit" if self.d.purpose == "contractor" and not self.d.permit_no else "ci_confirm")
            return
        self.app.go(next_step(self.d.steps(), current))

    def step_error(self, field: str) -> Any:
        """The service's verdict on one field of the draft (None when that field is fine)."""
        outcome = self.app.services.visitors.validate(self.d.form())
        return outcome.error_for(field)

    def field_done(self, field: str, value: Any, step: str) -> None:
        setattr(self.d, field, value)
        error = self.step_error(field)
        screen = self.app.screen(step)
        if error is not None:
            show_field_error(screen, error.zh, error.en)
            return
        if isinstance(screen, TextScreen):
            screen.error_zh = screen.error_en = ""
        self.advance(step)

    def set_host(self, host_id: str) -> None:
        self.d.host_id = host_id
        hosts = {h.id: h for h in self.app.services.hosts("")}
        self.d.host_label = hosts[host_id].label if host_id in hosts else ""
        self.field_done("host_id", host_id, "ci_host")

    def permit_done(self, text: str) -> None:
        if self.d.invitation is not None:
            self.d.permit_no = text
            self.app.go("ci_consent")
            return
        self.field_done("permit_no", text, "ci_permit")

    def consent(self, agreed: bool) -> None:
        if not agreed:
            zh, en = i18n.pair("ci.consent.declined")
            self.app.say(Message("declined", zh, en), title_key="ci.consent.title", style="info", seconds=8,
                         then=self.app.home, tid="consent_declined")
            return
        self.d.consent = True
        if self.d.invitation is not None:
            self.submit_invitation()
            return
        self.advance("ci_consent")

    # ------------------------------------------------------------------ confirm and submit

    def lines(self) -> list[tuple[str, str, str, str]]:
        outcome = self.app.services.visitors.validate(self.d.form())
        if not outcome.ok or outcome.value is None:
            return [(zh, en, "", CHECKIN_FIELD_STEPS.get(e.field, ""))
                    for e in outcome.errors for zh, en in [(e.zh, e.en)]]
        return [(line.label_zh, line.label_en, line.value, CHECKIN_FIELD_STEPS.get(line.field, ""))
                for line in outcome.value.read_back()]

    def submit(self) -> None:
        self.app.worker.run(self.app.services.visitors.check_in, self.d.form(), then=self.submitted)

    def submitted(self, outcome: Any) -> None:
        if not self.refused(outcome, accepted=("held",)):
            self._finish(outcome)

    def _finish(self, outcome: Any) -> None:
        """Checked in: the draft's personal data is dropped (it is in the store now)."""
        self.wipe_screens("ci_name", "ci_phone", "ci_company", "ci_permit", "ci_code", "ci_host")
        self.d.scrub()
        done = self.app.screen("ci_done")
        done.show_visit(outcome)
        self.app.history.clear()
        self.app.replace("ci_done")
        self.app.event("checked_in", status=outcome.status)

    # ------------------------------------------------------------------ invitation

    def code_done(self, text: str, scanned: bool = False) -> None:
        if not text:  # "register without a code"
            self.app.replace("ci_name")
            return
        outcome = self.app.services.invitations.find(text)
        screen = self.app.screen("ci_code")
        if not outcome.ok:
            if self.app.current != "ci_code":  # scanned on the name screen: say it where a code is typed
                self.app.screen(self.app.current).resume()
                self.app.go("ci_code")
            if screen.entry is not None:
                screen.entry.clear()
            screen.show_error(outcome.message.zh, outcome.message.en)
            return
        screen.error_zh = screen.error_en = ""
        self.d.invitation = outcome.value
        self.app.go("ci_invite")

    def invite_lines(self) -> list[tuple[str, str, str, str]]:
        inv = self.d.invitation
        if inv is None:
            return []
        out = [("姓名", "Name", inv.name, ""), ("手机号", "Mobile", inv.masked_phone, "")]
        if inv.company:
            out.append(("单位", "Company", inv.company, ""))
        out += [("被访", "Host", inv.host.label, ""), ("事由", "Purpose", f"{inv.purpose_zh} {inv.purpose_en}", ""),
                ("人数", "People", str(inv.party_size), ""),
                ("有效期至", "Valid until", inv.valid_until.strftime("%Y-%m-%d %H:%M"), "")]
        return out

    def invite_confirmed(self) -> None:
        self.app.screen("ci_invite").busy = False
        inv = self.d.invitation
        if inv is not None and inv.needs_permit and not self.d.permit_no:
            self.app.go("ci_permit")
            return
        self.app.go("ci_consent")

    def submit_invitation(self) -> None:
        inv = self.d.invitation
        self.app.worker.run(self.app.services.invitations.confirm, inv.invitation_id, True, self.d.permit_no or None,
                            then=self.invitation_done)

    def invitation_done(self, outcome: Any) -> None:
        if outcome.ok or outcome.status == "held":
            self._finish(outcome)
            return
        self.app.say(outcome.message, title_key="ci.problem.title", style="warn", seconds=10, tid="invite_problem")


def masked(phone: str | None) -> str:
    return mask_phone(phone) if phone else ""
