"""What the kiosk's multi-step forms share: going back to change a step, and the answer to a submit.

A flow asks one question per screen and reads everything back on its confirm
screen. A submit the service refuses for a field sends the visitor back to that
field's step with the message beside it; any other refusal is shown on the
confirm screen itself, with what to do next.
"""

from __future__ import annotations

from typing import Any

from kiosk.screens.common import show_field_error


class FormFlow:
    confirm_step = ""  # the read-back screen
    field_steps: dict[str, str] = {}  # form field -> the step that asks for it

    def __init__(self, app: Any) -> None:
        self.app = app
        self.cfg = app.cfg
        self.editing = False  # True after "change" on the confirm screen: a step returns there

    def change(self, step: str) -> None:
        self.editing = True
        self.app.go(step)

    def refused(self, outcome: Any, accepted: tuple[str, ...] = ()) -> bool:
        """Show why a submit failed (True), or say it did not (False); `accepted` statuses are not failures."""
        confirm = self.app.screen(self.confirm_step)
        confirm.busy = False
        confirm.resume()
        if outcome.status == "invalid":
            first = outcome.errors[0]
            self.editing = True
            show_field_error(self.app.go(self.field_steps.get(first.field, self.confirm_step)), first.zh, first.en)
            return True
        if not outcome.ok and outcome.status not in accepted:
            confirm.error_zh, confirm.error_en = outcome.message.zh, outcome.message.en
            return True
        return False

    def wipe_screens(self, *names: str) -> None:
        """Clear the screens that held personal data once it is stored."""
        for name in names:
            if self.app.sm.has_screen(name):
                self.app.screen(name).wipe()
