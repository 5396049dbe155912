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
from kiosk_driver import (DIRECTORY, Kiosk, checkin_to_host, seed, start_checkin, ticket_through_description,
                          write_config)
from layout_checks import cut_text

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

def walk_in_to_confirm(k: Kiosk, *, purpose: str = "meeting", company: str = "", permit: str = "",
                       party: int = 1) -> None:
    checkin_to_host(k)
    k.click("host_0")
    k.wait_screen("ci_purpose")
    for n in range(2, party + 1):
        k.click("plus")
        k.wait(lambda m, n=n: m["widgets"]["count"]["text"] == str(n), what=f"{n} people")
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


def ticket_to_confirm(k: Kiosk, *, kind: str = "repair", category: str = "engineering") -> None:
    """Home -> a ticket's confirm screen: a place, a description, urgent, a contact name and phone."""
    ticket_through_description(k, kind, category, "deng")
    while True:
        m = k.wait(lambda m: m["screen"] in ("tk_urgent", "tk_contact_name", "tk_contact_phone", "tk_confirm"),
                   what="next step")
        screen = m["screen"]
        if screen == "tk_urgent":
            k.click("urgent_yes")
        elif screen == "tk_contact_name":
            k.type_letters("liu")
            k.click("key:cand0")
            k.click("next")
        elif screen == "tk_contact_phone":
            k.type_letters("13912345678")
            k.click("next")
        else:
            break
        k.wait(lambda m, s=screen: m["screen"] != s, what=f"past {screen}")


def values_shown(m: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The values a confirm screen reads back."""
    return {n: w for n, w in m["widgets"].items() if re.fullmatch(r"line_\d+_value", n)}


def assert_confirm_fits(m: dict[str, Any], expected: list[str]) -> None:
    """Every line on screen at once, two columns, nothing cut or behind Confirm, Confirm below them all."""
    values = values_shown(m)
    texts = [w["text"] for w in values.values()]
    for text in expected:
        assert any(text in t for t in texts), (text, texts)
    assert shown_whole(m, sorted(values), "confirm") == []
    assert not [n for n, w in m["widgets"].items() if w.get("text") and cut_text(w)]
    assert not any(w["clipped"] for w in m["widgets"].values())  # no scroll view hides anything
    assert len({w["x"] for w in values.values()}) == 2  # label | value cells in two columns
    confirm = m["widgets"]["confirm"]
    assert all(w["y"] + w["h"] <= confirm["y"] + 2 for w in values.values())
    assert visible_whole(confirm, m["window"])


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

def test_ui_checkin_confirm_shows_every_line_without_scrolling(lobby: Lobby, ui: Kiosk) -> None:
    k = ui
    walk_in_to_confirm(k, party=3)
    m = k.settled()
    assert_confirm_fits(m, ["王", "13800138000", "商务拜访", "3"])
    assert len(values_shown(m)) == 5  # name, phone, host, purpose, party size
    for step in ("ci_name", "ci_phone", "ci_host", "ci_purpose"):  # each line in its cell, with its value
        cell = m["widgets"][f"change_{step}"]
        inside = [w for w in values_shown(m).values() if cell["x"] <= w["x"] and w["x"] + w["w"] <= cell["x"] + cell["w"]
                  and cell["y"] <= w["y"] and w["y"] + w["h"] <= cell["y"] + cell["h"]]
        assert len(inside) == 1 and inside[0]["text"], (step, inside)
    k.click("home")


def test_ui_ticket_confirm_shows_every_line_without_scrolling(lobby: Lobby, ui: Kiosk) -> None:
    k = ui
    ticket_to_confirm(k)
    m = k.settled()
    assert_confirm_fits(m, ["等", "13912345678", "Urgent", "刘"])
    assert {"change_tk_urgent", "change_tk_contact_name", "change_tk_contact_phone"} <= set(m["widgets"])
    k.click("home")

# ---------------------------------------------------------------------- 4. the repair place screen

def test_ui_place_screen_shows_every_area_whole(lobby: Lobby, ui: Kiosk) -> None:
    k = ui
    k.click("ticket")
    k.wait_screen("tk_kind")
    k.click("kind_repair")
    k.wait_screen("tk_category")
    k.click("category_engineering")
    k.wait_screen("tk_place")
    m = k.settled()
    areas = [f"area_{i}" for i in range(len(lobby.cfg.places.areas))]
    assert areas and shown_whole(m, areas + ["floor_unsure"], "next") == []  # no row behind Next
    for name in areas:
        w = m["widgets"][name]
        words = set(w["text"].split())
        broken = [line for line in w.get("lines", []) if not set(line.split()) <= words]
        assert not broken and not cut_text(w), (name, w["text"], w.get("lines"))  # no word broken in two
    assert m["widgets"]["floor_unsure"]["style"] == "choice"  # "not sure" is not pre-selected
    assert not [n for n, w in m["widgets"].items() if w.get("style") == "selected"]  # nothing is
    k.click("floor_unsure")
    k.wait(lambda m: m["widgets"]["floor_unsure"]["style"] == "selected", what="'not sure' chosen")
    k.click("home")

# ---------------------------------------------------------------------- 5. stale and cut text

def english(k: Kiosk) -> None:
    k.click("lang")
    k.wait(lambda m: m["lang"] == "en", what="English")


def test_ui_code_question_is_not_cut(lobby: Lobby, ui: Kiosk) -> None:
    k = ui
    english(k)
    start_checkin(k)
    k.click("invite")
    k.wait_screen("ci_code")
    m = k.settled()
    question = m["widgets"]["question"]
    assert question["text"].startswith("Please enter your 8-digit code, or scan the QR code"), question["text"]
    assert not cut_text(question), question.get("lines")
    assert visible_whole(question, m["window"])
    k.click("home")


def test_ui_track_result_shows_both_deadlines_and_the_english_reply_line(lobby: Lobby, ui: Kiosk) -> None:
    from lobby.services.tickets import TicketForm

    outcome = lobby.services().tickets.create(TicketForm(
        kind="repair", category="engineering", floor="1F", description="漏水 A leak", urgent=True))
    assert outcome.ok, outcome
    number = outcome.value.ticket_no
    k = ui
    english(k)
    k.click("track")
    k.wait_screen("tr_entry")
    k.type_code(number)
    k.click("next")
    k.wait_screen("tr_result")
    m = k.settled()
    w = m["widgets"]
    dues = sorted(n for n in w if n.startswith("track_due_"))
    texts = " | ".join(w[n]["text"] for n in dues)
    assert len(dues) == 2 and "on site" in texts.lower() and "repair completed" in texts.lower(), texts
    assert {w[n]["fs"] for n in dues} == {w["track_status"]["fs"]}  # as large as the line with the number
    assert w["replies"]["text"].startswith("No reply yet"), w["replies"]["text"]  # English first
    assert shown_whole(m, dues + ["replies", "number", "track_status"], "finish") == []
    assert not [n for n in dues + ["replies", "track_status", "number"] if cut_text(w[n])]
    k.click("finish")


def test_ui_name_at_its_limit_says_so(lobby: Lobby, ui: Kiosk) -> None:
    k = ui
    english(k)
    start_checkin(k)
    k.type_letters("abcdefghijklmn"[:NAME_MAX])
    k.wait(lambda m: len(m["widgets"]["field"]["text"].rstrip("|")) == NAME_MAX, what="the name at its limit")
    m = k.wait(lambda m: "limit" in m["widgets"], what="the limit said")
    assert str(NAME_MAX) in m["widgets"]["limit"]["text"], m["widgets"]["limit"]["text"]
    k.click("key:backspace")
    k.wait(lambda m: "limit" not in m["widgets"], what="the message gone below the limit")
    k.click("home")


def test_ui_pass_screen_says_things_once(lobby: Lobby, ui: Kiosk) -> None:
    k = ui
    walk_in_to_confirm(k)
    k.click("confirm")
    k.wait_screen("ci_done")
    m = k.settled()
    number = m["widgets"]["big_value"]["text"]
    texts = [w.get("text", "") for w in m["widgets"].values()]
    assert sum(number in t for t in texts) == 1, texts  # the pass number once
    assert sum("通知" in t for t in texts) == 1, texts  # "host notified" said once
    assert sum("notified" in t or "let your host know" in t for t in texts) == 1, texts
    k.click("finish")
    k.wait_screen("home")


def test_ui_screens_left_for_home_are_built_again_and_work(lobby: Lobby, ui: Kiosk) -> None:
    """Home lets go of every other screen (the kiosk's memory) and the next visit builds them again:
    the flow works as on a first visit and nothing of the visitor before is left, on screen or in memory."""
    k = ui
    checkin_to_host(k)  # a name and 13800138000 typed; on the host question
    assert k.control("state")["screens"] > 1
    given = len(k.events("memory_given_back"))
    k.click("home")
    k.wait_screen("home")
    k.wait(lambda m: len(k.events("memory_given_back")) > given, what="the screens let go")
    assert k.control("state")["screens"] == 1  # home alone
    found = k.control("find_text", text="13800138000")
    assert found["widgets"] == [] and found["holders"] == 0, found

    start_checkin(k)  # built again: an empty field
    field = k.wait_widget("field")
    assert "wang" not in field.get("text", ""), field
    assert not k.map()["keys"].get("key:cand0", {}).get("text"), "candidates of the name typed before"
    k.click("home")
    k.wait_screen("home")
    walk_in_to_confirm(k)  # the same answers again, on screens built anew
    m = k.settled()
    values = [w["text"] for name, w in m["widgets"].items() if name.endswith("_value")]
    assert "13800138000" in values, values  # the phone once, not added to what was typed before
    k.click("confirm")
    k.wait_screen("ci_done")
    assert len(k.text("big_value")) == 5
    k.click("finish")
    k.wait_screen("home")


# ---------------------------------------------------------------------- 6. idle

def test_ui_still_there_counts_down_and_a_touch_keeps_the_form(lobby: Lobby, ui: Kiosk) -> None:
    k = ui
    start_checkin(k)
    k.click("key:toggle")  # EN: letters no dictionary holds, so that finding them later means a leak
    k.wait(lambda m: m["keys"].get("key:_layout", {}).get("text") == "en", what="the EN keyboard")
    k.type_letters("xqzvk")
    m = k.wait(lambda m: "qzvk" in m["widgets"]["field"]["text"], what="the name typed")
    typed = m["widgets"]["field"]["text"].rstrip("|")
    timeout = lobby.cfg.kiosk.idle_timeout_s
    k.control("idle_for", s=timeout - 46)  # 46 s before the wipe: no warning yet
    m = k.settled()
    assert m["overlay"] == "" and not k.events("idle_warning")
    k.control("idle_for", s=timeout - 45)  # 45 s before it: "Still there?"
    m = k.wait(lambda m: m["overlay"] == "idle_warning", what="the warning")
    assert k.events("idle_warning")[-1]["warning_s"] == 45  # kiosk.idle_warning_s (default)
    assert "还在吗" in m["widgets"]["idle_title"]["text"] and "Still there?" in m["widgets"]["idle_title"]["text"]
    assert 0 < int(m["widgets"]["idle_countdown"]["text"]) <= 45
    title = m["widgets"]["idle_title"]
    k.click_at(title["cx"], title["cy"])  # any touch: the warning goes, the form stays
    m = k.wait(lambda m: m["overlay"] == "", what="the warning gone")
    assert m["screen"] == "ci_name" and m["widgets"]["field"]["text"].startswith(typed)
    wipes = m["wipes"]
    k.control("idle_for", s=timeout - 45)
    k.wait(lambda m: m["overlay"] == "idle_warning", what="the warning again")
    k.control("idle_for", s=timeout)  # the countdown reaches 0: the wipe
    k.wait(lambda m: m["screen"] == "home" and m["overlay"] == "" and m["wipes"] > wipes, what="the wipe")
    found = k.control("find_text", text=typed)
    assert found["widgets"] == [] and found["holders"] == 0, found

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
    checkin_to_host(k)
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

