"""Taps per flow (issue "The demo a newcomer sees"): each visitor flow driven by real clicks at 800x480,
its taps (every touch the app saw, keyboard keys included) and screens counted from home to the screen that
says it is done, and compared with the table "Taps per flow" in docs/PERFORMANCE.md."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from kiosk_driver import REPO, Kiosk, checkin_to_host, seed, ticket_through_description, write_config

from lobby.config import load_config, state_path
from mqtt_bridge.store import Store

pytestmark = pytest.mark.xdist_group("kiosk-tap-counts")
DOC = REPO / "docs" / "PERFORMANCE.md"


class Counting(Kiosk):
    """The driver, noting the screen after every click (a new screen name counts once)."""

    screens: list[str]

    def click(self, tid: str, timeout: float = 20.0) -> None:
        super().click(tid, timeout)
        m = self.map()
        where = m["overlay"] or m["screen"]
        if where != "home" and (not self.screens or self.screens[-1] != where):
            self.screens.append(where)


def measure(k: Counting, flow: Any, done: str) -> dict[str, Any]:
    k.screens = []
    k.wait_screen("home")
    before = k.settled()["touches"]
    flow(k)
    k.wait_screen(done)
    taps = k.settled()["touches"] - before
    return {"taps": taps, "screens": len(dict.fromkeys(k.screens)), "path": list(dict.fromkeys(k.screens))}


def walk_in(k: Kiosk) -> None:
    checkin_to_host(k)
    k.click("host_0")
    k.wait_screen("ci_purpose")
    k.click("purpose_meeting")
    while True:
        screen = k.wait(lambda m: m["screen"] in ("ci_party", "ci_company", "ci_permit", "ci_consent"),
                        what="next step")["screen"]
        if screen == "ci_consent":
            break
        k.click("skip" if screen == "ci_company" else "next")
        k.wait(lambda m, s=screen: m["screen"] != s, what=f"past {screen}")
    k.click("agree")
    k.wait_screen("ci_confirm")
    k.click("confirm")


def invited(k: Kiosk) -> None:
    k.click("checkin")
    k.click("invite")
    k.wait_screen("ci_code")
    k.type_code("48291357")
    k.click("next")
    k.wait_screen("ci_invite")
    k.click("confirm")
    k.wait_screen("ci_consent")
    k.click("agree")


def check_out(k: Kiosk) -> None:
    k.click("checkout")
    k.wait_screen("co_start")
    k.click("by_phone")
    k.wait_screen("co_last4")
    k.type_letters("8000")
    k.click("next")
    k.wait_screen("co_choose")
    k.click("visit_0")


def happy(k: Kiosk) -> None:
    k.click("feedback")
    k.wait_screen("fb_faces")
    k.click("face_very_happy")


def unhappy(k: Kiosk) -> None:
    k.click("feedback")
    k.wait_screen("fb_faces")
    k.click("face_unhappy")
    k.wait_screen("fb_reason")
    k.click("reason_waiting")


def ticket(kind: str, category: str) -> Any:
    def flow(k: Kiosk) -> None:
        ticket_through_description(k, kind, category, "loushui")
        while True:
            screen = k.wait(lambda m: m["screen"] in ("tk_urgent", "tk_contact_name", "tk_contact_phone",
                                                      "tk_confirm"), what="next step")["screen"]
            if screen == "tk_confirm":
                break
            if screen == "tk_urgent":
                k.click("urgent_no")
            elif screen == "tk_contact_name":
                k.click("skip")
            else:
                k.type_letters("13700003333")
                k.click("next")
            k.wait(lambda m, s=screen: m["screen"] != s, what=f"past {screen}")
        k.click("confirm")
    return flow


def documented() -> dict[str, tuple[int, int]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Taps per flow", 1)[1].split("\n## ", 1)[0] if "## Taps per flow" in text else ""
    rows = re.findall(r"^\| ([a-z][^|]+?) \| (\d+) \| (\d+) \|", section, re.M)
    return {name: (int(taps), int(screens)) for name, taps, screens in rows}


def test_ui_taps_per_flow(display: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path / "lobby.toml", tmp_path / "state", 1883,
                          kiosk="idle_timeout_s = 600\nscreensaver_after_s = 3600")
    seed(config)
    cfg = load_config(config)
    store = Store(state_path(cfg, cfg.store.path))
    from lobby.cardhash import load_key
    from lobby.services import LobbyServices

    services = LobbyServices(store, cfg, card_key=load_key(cfg.state_dir))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    with store.transaction() as tx:
        services.invitations.receive_tx(tx, {"invite_id": "inv-code", "code": "48291357", "visitor_name": "赵敏",
                                             "visitor_phone": "13500009999", "host_id": "h-1203",
                                             "purpose": "meeting", "valid_from": now})
    k = Counting(display(800, 480), config, tmp_path, lang="zh").start()
    measured: dict[str, dict[str, Any]] = {}
    try:
        flows = [("walk-in check-in (meeting)", walk_in, "ci_done"), ("invited check-in with code", invited, "ci_done"),
                 ("check-out (by phone)", check_out, "co_done"), ("feedback, happy", happy, "fb_thanks"),
                 ("feedback, unhappy with reason", unhappy, "fb_thanks"),
                 ("repair ticket", ticket("repair", "engineering"), "tk_done"),
                 ("complaint", ticket("complaint", "noise"), "tk_done")]
        for name, flow, done in flows:
            measured[name] = measure(k, flow, done)
            k.click("finish") if "finish" in k.map()["widgets"] else None
            k.wait_screen("home", timeout=60)
        number = store.scalar("SELECT ticket_no FROM tickets ORDER BY rowid DESC LIMIT 1")

        switches: list[int] = []

        def track(kk: Kiosk) -> None:
            kk.click("track")
            kk.wait_screen("tr_entry")
            switches.append(kk.type_code(number))
            kk.click("next")
        measured["ticket tracking"] = measure(k, track, "tr_result")
        # The layout switches depend on the random number's mix of letters and digits: counted apart.
        measured["ticket tracking"]["taps"] -= switches[0]
        measured["ticket tracking"]["layout_switches"] = switches[0]
    finally:
        k.stop()
        store.close()
    out = REPO / "build" / "taps-per-flow.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(measured, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(measured, ensure_ascii=False, indent=1))
    assert "Traceback" not in k.log_text()
    table = documented()
    assert {name: (m["taps"], m["screens"]) for name, m in measured.items()} == table, out
