"""What the staff screen's buttons do: each action goes through a service on the worker thread.

Acting on a person, or printing names, needs the PIN (lobby.staff_access); without it the
PIN pad is shown instead. Mixed into StaffScreen.
"""

from __future__ import annotations

from typing import Any

from kiosk import i18n
from lobby.staff_access import action_needs_pin


def i18n_message(key: str) -> Any:
    from lobby.services import Message

    zh, en = i18n.pair(key)
    return Message(key, zh, en)


class StaffActions:
    app: Any
    unlocked: bool
    message_zh: str
    message_en: str

    def load(self) -> None:  # provided by the screen
        raise NotImplementedError

    def act(self, value: Any) -> None:
        if not isinstance(value, tuple):
            return
        what, *args = value
        if action_needs_pin(what) and not self.unlocked and what != "lock":
            self.load()  # the PIN pad instead
            return
        staff = (self.app.staff_id or "staff")[:64]
        svc = self.app.services
        worker = self.app.worker
        if what == "ack":
            worker.run(self.app.rt.alerts.ack, args[0], f"kiosk:{staff}", then=lambda _r: self.load())
        elif what == "safe":
            worker.run(svc.rollcall.mark_safe, args[0], True, None, staff, then=self._outcome)
        elif what == "unsafe":
            worker.run(svc.rollcall.mark_safe, args[0], False, None, staff, then=self._outcome)
        elif what == "start_roll":
            def confirmed(choice: Any) -> None:
                if choice == "start":
                    worker.run(svc.rollcall.start, "staff", "", False, then=self._outcome)

            self.app.say(i18n_message("staff.evac.confirm_start"), title_key="staff.evac.start", style="error",
                         seconds=0, tid="confirm_evac", on_action=confirmed,
                         actions=[{"key": "staff.evac.start", "value": "start", "style": "primary",
                                   "tid": "evac_confirm"},
                                  {"key": "common.back", "value": "cancel", "style": "secondary",
                                   "tid": "evac_cancel"}])
        elif what == "close_roll":
            worker.run(svc.rollcall.close, staff, then=self._outcome)
        elif what == "print_roll":
            worker.run(svc.rollcall.print, then=self._outcome)
        elif what == "approve":
            worker.run(svc.visitors.approve, args[0], staff, then=self._outcome)
        elif what == "deny":
            worker.run(svc.visitors.deny, args[0], staff, then=self._outcome)
        elif what == "reprint":
            printer = self.app.rt.printer
            if printer is not None:
                worker.run(printer.reprint_held, then=lambda _r: self.load())
        elif what == "lock":
            self.unlocked = False
            self.load()

    def _outcome(self, outcome: Any) -> None:
        self.message_zh, self.message_en = outcome.message.zh, outcome.message.en
        self.load()
        self.app._poll_evacuation()
