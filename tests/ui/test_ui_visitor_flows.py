"""Issue #16: a new visitor at the touchscreen (800x480, real clicks): what tripped them up.

One kiosk (Chinese first, no broker needed: the records are read from the store) runs
for the module; each test starts from the home screen. Each test drives the real app
and reproduces one defect found by trying the flows as a visitor would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kiosk_driver import DIRECTORY, Kiosk, seed, write_config

from lobby.config import load_config, state_path
from mqtt_bridge.store import Store

pytestmark = pytest.mark.xdist_group("kiosk-visitor-flows")

NAME_MAX = 12
# more hosts than one screen holds, so that the host list scrolls
MORE_HOSTS = [(f"h-x{i:02d}", f"{20 + i}F-{20 + i}01", f"测试公司{i} Test Co {i}", "", f"{20 + i}F") for i in range(12)]
EXTRA = f"""
[visitors]
name_max_len = {NAME_MAX}
"""


class Lobby:
    def __init__(self, kiosk: Kiosk, store: Store, config: Path) -> None:
        self.kiosk, self.store, self.config = kiosk, store, config
        self.cfg = load_config(config)

    def services(self) -> Any:
        from lobby.cardhash import load_key
        from lobby.services import LobbyServices

        return LobbyServices(self.store, self.cfg, card_key=load_key(self.cfg.state_dir))


@pytest.fixture(scope="module")
def lobby(display: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lobby]:
    work = tmp_path_factory.mktemp("kiosk-visitor-flows")
    config = write_config(work / "lobby.toml", work / "state", 1883, extra=EXTRA,
                          kiosk="idle_timeout_s = 600\nscreensaver_after_s = 3600")
    seed(config)
    cfg = load_config(config)
    store = Store(state_path(cfg, cfg.store.path))
    with store.transaction() as tx:
        for entry in MORE_HOSTS:
            tx.execute("INSERT OR IGNORE INTO directory (id, unit, company, person, floor, active, updated_ts) "
                       "VALUES (?, ?, ?, ?, ?, 1, '2026-11-01T00:00:00.000Z')", entry)
    kiosk = Kiosk(display(800, 480), config, work, lang="zh").start()
    try:
        yield Lobby(kiosk, store, config)
        assert "Traceback" not in kiosk.log_text()
    finally:
        kiosk.stop()
        store.close()


@pytest.fixture
def ui(lobby: Lobby) -> Kiosk:
    """The kiosk at its home screen, in Chinese."""
    k = lobby.kiosk
    m = k.map()
    if m["overlay"]:
        k.wait(lambda m: not m["overlay"] or "overlay_ok" in m["widgets"] or "retry" in m["widgets"]
               or "idle_continue" in m["widgets"])
        m = k.map()
        for button in ("overlay_ok", "retry", "idle_continue"):
            if button in m["widgets"]:
                k.click(button)
                break
    if k.map()["screen"] != "home":
        k.click("home")
    k.wait_screen("home")
    if k.map()["lang"] != "zh":
        k.click("lang")
        k.wait(lambda m: m["lang"] == "zh", what="Chinese again")
    return k


# ---------------------------------------------------------------------- helpers

def start_checkin(k: Kiosk) -> None:
    """Home -> the first question of a walk-in check-in (the name)."""
    k.click("checkin")
    k.wait(lambda m: m["screen"] in ("ci_start", "ci_name"), what="check-in started")
    if k.map()["screen"] == "ci_start":
        k.click("walkin")
    k.wait_screen("ci_name")


def walk_in_to_confirm(k: Kiosk, *, purpose: str = "meeting", company: str = "", permit: str = "") -> None:
    start_checkin(k)
    k.type_letters("wang")
    k.click("key:cand0")
    k.click("next")
    k.wait_screen("ci_phone")
    k.type_letters("13800138000")
    k.click("next")
    k.wait_screen("ci_host")
    k.click("host_0")
    k.wait_screen("ci_purpose")
    k.click(f"purpose_{purpose}")
    while True:
        m = k.wait(lambda m: m["screen"] in ("ci_party", "ci_company", "ci_permit", "ci_consent"), what="next step")
        screen = m["screen"]
        if screen == "ci_party":
            k.click("next")
        elif screen == "ci_company":
            if company:
                k.type_code(company)
                k.click("next")
            else:
                k.click("skip")
        elif screen == "ci_permit":
            k.type_code(permit)
            k.click("next")
        else:
            break
        k.wait(lambda m, s=screen: m["screen"] != s, what=f"past {screen}")
    k.click("agree")
    k.wait_screen("ci_confirm")


def visible_whole(w: dict[str, Any], win: list[int]) -> bool:
    x0, y0, ww, hh = win
    return not w["clipped"] and w["x"] >= x0 - 2 and w["y"] >= y0 - 2 and w["x"] + w["w"] <= x0 + ww + 2 and \
        w["y"] + w["h"] <= y0 + hh + 2


def overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"]) > 2 and
            min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"]) > 2)


def shown_whole(m: dict[str, Any], names: list[str], pinned: str) -> list[str]:
    """Names among `names` that are not wholly visible, or that lie behind the pinned button."""
    widgets, bad = m["widgets"], []
    for name in names:
        w = widgets.get(name)
        if w is None or not visible_whole(w, m["window"]):
            bad.append(f"{name}: not wholly on screen ({w and (w['x'], w['y'], w['w'], w['h'], w['clipped'])})")
        elif pinned in widgets and overlaps(w, widgets[pinned]):
            bad.append(f"{name}: behind {pinned}")
    return bad


def cut_text(w: dict[str, Any]) -> bool:
    """The label drew an ellipsis its text does not have (shortened to fit)."""
    text = w.get("text", "")
    return any(mark in line and mark not in text for line in w.get("lines", []) for mark in ("…", "..."))


# ---------------------------------------------------------------------- 1. the language

def test_ui_language_chosen_on_home_stays_for_the_flow(lobby: Lobby, ui: Kiosk) -> None:
    k = ui
    k.click("lang")
    k.wait(lambda m: m["lang"] == "en", what="English")
    start_checkin(k)
    m = k.wait(lambda m: "field" in m["widgets"] and "key:_layout" in m["keys"], what="the name field")
    assert m["lang"] == "en"  # not Chinese again
    assert m["widgets"]["field"]["text"] == "Please enter your name"
    assert m["keys"]["key:_layout"]["text"] == "en"  # the English keyboard for an English reader
    # switching mid-flow: the field's hint and the keyboard follow
    k.click("lang")
    k.wait(lambda m: m["lang"] == "zh" and m["widgets"]["field"]["text"] == "请输入您的姓名"
           and m["keys"]["key:_layout"]["text"] == "zh", what="the field in Chinese")
    k.click("lang")
    k.wait(lambda m: m["lang"] == "en" and m["widgets"]["field"]["text"] == "Please enter your name"
           and m["keys"]["key:_layout"]["text"] == "en", what="the field in English again")
    k.type_letters("li")
    k.click("next")
    k.wait_screen("ci_phone")
    assert k.map()["lang"] == "en"
    k.click("home")  # home: the site's language again
    k.wait(lambda m: m["screen"] == "home" and m["lang"] == "zh", what="home in Chinese")


# ---------------------------------------------------------------------- 2. double taps

def test_ui_double_tap_on_a_face_chooses_no_reason(lobby: Lobby, ui: Kiosk) -> None:
    k = ui
    before = lobby.store.scalar("SELECT count(*) FROM feedback")
    k.click("feedback")
    k.wait_screen("fb_faces")
    face = k.settled()["widgets"]["face_unhappy"]
    k.click_at(face["cx"], face["cy"], repeat=2, delay_ms=400)  # a double tap, 400 ms apart
    m = k.wait(lambda m: m["screen"] == "fb_reason" and m["busy"] == 0, what="the reason question")
    m = k.settled()
    assert m["screen"] == "fb_reason", m["screen"]  # the second tap pressed no reason
    rows = lobby.store.query("SELECT face, reason FROM feedback ORDER BY rowid DESC LIMIT 1")
    assert lobby.store.scalar("SELECT count(*) FROM feedback") == before + 1
    assert rows[0]["face"] == "unhappy" and rows[0]["reason"] is None, dict(rows[0])
    k.click("skip")
    k.wait_screen("fb_thanks")


def test_ui_double_tap_on_confirm_presses_nothing_on_the_pass_screen(lobby: Lobby, ui: Kiosk) -> None:
    k = ui
    walk_in_to_confirm(k)
    confirm = k.settled()["widgets"]["confirm"]
    k.click_at(confirm["cx"], confirm["cy"], repeat=2, delay_ms=400)
    k.wait_screen("ci_done")
    m = k.settled()
    shown = " ".join(w.get("text", "") for w in m["widgets"].values())
    assert "请现在将访客卡放在读卡器上" not in shown  # "Use a pass card" was not pressed
    assert "请稍候……" not in shown  # nor "Print my pass"
    assert not k.events("badge_print")
    k.click("finish")
    k.wait_screen("home")


def test_ui_double_tap_on_a_visit_checks_out_once(lobby: Lobby, ui: Kiosk) -> None:
    """Two taps that both land before the screen changes (the store write is slow): one check-out."""
    from lobby.services import CheckInForm

    outcome = lobby.services().visitors.check_in(CheckInForm(name="Twice Tapped", phone="13600005151",
                                                             host_id="h-0801", purpose="meeting", consent=True))
    assert outcome.ok, outcome
    k = ui
    k.click("checkout")
    k.wait_screen("co_start")
    k.click("by_phone")
    k.wait_screen("co_last4")
    k.type_letters("5151")
    k.click("next")
    k.wait_screen("co_choose")
    visit = k.settled()["widgets"]["visit_0"]
    assert k.control("hold")["ok"]  # the worker is busy (the gateway holds the store's write lock)
    try:
        k.click_at(visit["cx"], visit["cy"], repeat=2, delay_ms=80)
    finally:
        assert k.control("release")["ok"]
    k.wait_screen("co_done")
    m = k.settled()
    assert "再见" in m["widgets"]["heading"]["text"], m["widgets"]["heading"]["text"]  # not "对不起"
    assert lobby.store.scalar("SELECT status FROM visits WHERE id = ?", (outcome.value.visit_id,)) == "out"
    k.click("finish")


# ---------------------------------------------------------------------- 3. confirm screens

# ---------------------------------------------------------------------- 4. the repair place screen

# ---------------------------------------------------------------------- 5. stale and cut text

def test_ui_corrected_phone_loses_its_error_at_once(lobby: Lobby, ui: Kiosk) -> None:
    k = ui
    start_checkin(k)
    k.type_letters("wang")
    k.click("key:cand0")
    k.click("next")
    k.wait_screen("ci_phone")
    k.type_letters("123")
    k.click("next")
    k.wait_widget("error")
    k.click("key:4")  # correcting it: the error about "123" is gone before Next
    k.wait(lambda m: "error" not in m["widgets"] and m["widgets"]["field"]["text"].startswith("1234"),
           what="the error gone")
    k.click("home")


def test_ui_lists_start_at_their_top(lobby: Lobby, ui: Kiosk) -> None:
    k = ui
    start_checkin(k)
    k.type_letters("wang")
    k.click("key:cand0")
    k.click("next")
    k.wait_screen("ci_phone")
    k.type_letters("13800138000")
    k.click("next")
    k.wait_screen("ci_host")
    first = k.settled()["widgets"]["host_0"]
    assert len([n for n in k.map()["widgets"] if n.startswith("host_")]) < len(DIRECTORY) + len(MORE_HOSTS)
    for _ in range(10):
        k.xdo("mousemove", str(first["cx"]), str(first["cy"]), "click", "5")
    k.wait(lambda m: "host_0" not in m["widgets"] or m["widgets"]["host_0"]["y"] != first["y"], what="scrolled")
    k.click("home")
    k.wait_screen("home")
    start_checkin(k)
    k.type_letters("li")
    k.click("key:cand0")
    k.click("next")
    k.wait_screen("ci_phone")
    k.type_letters("13800138001")
    k.click("next")
    k.wait_screen("ci_host")
    again = k.settled()["widgets"]["host_0"]
    assert (again["y"], again["clipped"]) == (first["y"], False)
    k.click("home")

