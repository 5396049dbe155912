"""Feedback: four faces (no neutral one), an optional reason after an unhappy face, thanks.

The thank-you is the same whatever the face (nobody is nudged toward a good rating);
the screen goes home by itself after kiosk.thank_you_s.
"""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty

from lobby.services.feedback import reason_label
from kiosk.widgets import KScreen

from kiosk.screens.common import ChoiceScreen, ResultScreen


REASON_ICONS = {"waiting": "hourglass_top", "attitude": "support_agent", "cleanliness": "cleaning_services",
                "repair": "build", "noise": "volume_up", "other": "more_horiz"}


class FacesScreen(KScreen):
    busy = BooleanProperty(False)

    def __init__(self, flow: FeedbackFlow, **kw: Any) -> None:
        super().__init__(title_key="fb.title", **kw)
        self.flow = flow

    def refresh(self) -> None:
        self.busy = False

    def press(self, face: str) -> None:
        if not self.busy and self.begin():
            self.busy = True
            self.flow.press(face)


class FeedbackFlow:
    def __init__(self, app: Any) -> None:
        self.app = app
        reg = app.register
        reg("fb_faces", lambda: FacesScreen(self))
        reg("fb_reason", lambda: ChoiceScreen(
            title_key="fb.title", question_key="fb.reason.question", cols=3, cols_portrait=2,
            choices=self.reasons, extra=[{"key": "common.skip", "value": None, "style": "secondary", "tid": "skip"}],
            on_choose=self.reason))
        reg("fb_thanks", lambda: ResultScreen(
            title_key="fb.title", show_back=False, heading_key="fb.thanks.title",
            auto_home_s=app.cfg.kiosk.thank_you_s,
            actions=[{"key": "common.done", "value": "home", "style": "primary", "tid": "finish"}]))

    def press(self, face: str) -> None:
        self.app.worker.run(self.app.services.feedback.press, face, None, "kiosk", then=self.pressed)

    def pressed(self, outcome: Any) -> None:
        self.app.screen("fb_faces").busy = False
        if outcome.ok and outcome.value is not None and outcome.value.ask_reason:
            self.app.drafts.feedback_press = outcome.value.press_id
            self.app.go("fb_reason")
            return
        self.thanks(outcome)

    def position(self, screen: str) -> tuple[int, int] | None:
        steps = ["fb_faces", "fb_reason"]
        return (steps.index(screen) + 1, len(steps)) if screen in steps else None

    def reasons(self) -> list[dict[str, Any]]:
        out = []
        for reason in self.app.cfg.feedback.unhappy_reasons:
            zh, en = reason_label(reason)
            out.append({"zh": zh, "en": en, "value": reason, "tid": f"reason_{reason}",
                        "icon": REASON_ICONS.get(reason, "")})
        return out

    def reason(self, reason: str | None) -> None:
        press_id = self.app.drafts.feedback_press
        self.app.drafts.feedback_press = None
        if reason is None or press_id is None:
            from lobby.services.feedback import THANKS
            from lobby.services.messages import Outcome

            self.thanks(Outcome.success("recorded", THANKS))
            return
        self.app.worker.run(self.app.services.feedback.add_reason, press_id, reason, then=self.thanks)

    def thanks(self, outcome: Any) -> None:
        screen = self.app.screen("fb_thanks")
        screen.set_message(outcome.message)
        screen.style = "ok" if outcome.ok else "warn"
        self.app.history.clear()
        self.app.replace("fb_thanks")
        self.app.event("feedback", status=outcome.status)
