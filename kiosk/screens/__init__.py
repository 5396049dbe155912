"""The kiosk's screens: thin Kivy views (Python + .kv beside) over lobby.services.

`register_all(app)` tells the app how to build each screen; screens are created on
their first visit and then reused (see KioskApp.screen).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.lang import Builder

KV_FILES = ("common.kv", "overlays.kv", "home.kv", "checkin.kv", "checkout.kv", "feedback.kv", "ticket.kv",
            "staff.kv")


def load_all_kv() -> None:
    here = Path(__file__).parent
    for name in KV_FILES:
        path = str(here / name)
        if path not in Builder.files:
            Builder.load_file(path)


def register_all(app: Any) -> None:
    from kiosk.screens.checkin import CheckInFlow
    from kiosk.screens.checkout import CheckoutFlow
    from kiosk.screens.feedback import FeedbackFlow
    from kiosk.screens.home import HomeScreen
    from kiosk.screens.staff import StaffScreen
    from kiosk.screens.ticket import TicketFlow

    app.register("home", lambda: HomeScreen())
    app.register("staff", lambda: StaffScreen())
    app.flows = {"checkin": CheckInFlow(app), "checkout": CheckoutFlow(app), "feedback": FeedbackFlow(app),
                 "ticket": TicketFlow(app)}
