"""Visitor check-out: tap the pass card (handled anywhere by the card router), scan the
badge's QR code (a USB scanner types the pass number and Enter), or the last 4 digits
of the mobile number and then the visit by its masked name."""

from __future__ import annotations

from typing import Any

from kiosk.widgets import KScreen

from kiosk.screens.common import ChoiceScreen, ResultScreen, TextScreen


class CheckoutScreen(KScreen):
    def __init__(self, flow: CheckoutFlow, **kw: Any) -> None:
        super().__init__(title_key="co.title", scanner=True, **kw)
        self.flow = flow

    def on_scan(self, text: str) -> None:
        if self.begin():
            self.flow.by_pass(text)


class CheckoutFlow:
    def __init__(self, app: Any) -> None:
        self.app = app
        reg = app.register
        reg("co_start", lambda: CheckoutScreen(self))
        reg("co_last4", lambda: TextScreen(title_key="co.title", question_key="co.last4.question", kind="phone",
                                           placeholder_key="co.last4.placeholder", max_length=4, done=self.last4))
        reg("co_choose", lambda: ChoiceScreen(title_key="co.title", question_key="co.choose.question", cols=2,
                                              cols_portrait=1, choices=self.choices, on_choose=self.chosen))
        reg("co_done", lambda: ResultScreen(title_key="co.title", show_back=False, heading_key="co.done.title",
                                            auto_home_s=8, actions=[{"key": "common.done", "value": "home",
                                                                     "style": "primary", "tid": "finish"}]))

    def position(self, screen: str) -> tuple[int, int] | None:
        steps = ["co_start", "co_last4", "co_choose"]
        return (steps.index(screen) + 1, len(steps)) if screen in steps else None

    def by_pass(self, scanned: str) -> None:
        self.app.worker.run(self.app.services.visitors.check_out_by_pass, scanned, then=self.done)

    def last4(self, digits: str) -> None:
        outcome = self.app.services.visitors.find_by_phone_last4(digits)
        screen = self.app.screen("co_last4")
        if not outcome.ok:
            err = outcome.error_for("last4")
            msg = err if err is not None else outcome.message
            if screen.entry is not None:
                screen.entry.clear()
            screen.show_error(msg.zh, msg.en)
            return
        screen.wipe()
        self.app.drafts.checkout_choices = list(outcome.value or [])
        self.app.go("co_choose")

    def choices(self) -> list[dict[str, Any]]:
        out = []
        for i, c in enumerate(self.app.drafts.checkout_choices):
            when = c.checked_in.strftime("%H:%M")
            out.append({"zh": f"{c.masked_name} · {c.host_unit} · {when}",
                        "en": f"{c.masked_name} · {c.host_unit} · {when}", "only": True,
                        "value": c.visit_id, "tid": f"visit_{i}"})
        return out

    def chosen(self, visit_id: str) -> None:
        self.app.worker.run(self.app.services.visitors.check_out, visit_id, "phone", then=self.done)

    def done(self, outcome: Any) -> None:
        screen = self.app.screen("co_done")
        screen.set_message(outcome.message)
        screen.style = "ok" if outcome.ok else "warn"
        screen.heading_key = "co.done.title" if outcome.ok else "ci.problem.title"
        self.app.drafts.checkout_choices = []
        self.app.history.clear()
        self.app.replace("co_done")
        self.app.event("checked_out", status=outcome.status)
