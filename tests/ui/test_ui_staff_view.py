"""The staff screen as a picture (issue #16): counts on the tabs, column headers, the floor plan,
today's meters as sparklines, tonight's patrol timeline, the satisfaction gauge; at 800x480
and 1280x800 in both languages, each tab checked (nothing off screen or clipped, no
overlaps, every glyph in the font) and saved under build/screenshots/.

And the staff-screen defects, each with the check that failed before:
- "1 visitors": a party of one reads "1 visitor in the building";
- the PIN pad had a "+" key: it is digits only;
- alert rows stayed Chinese-first in English mode: the title column leads in English;
- the patrol tab said "Planned 1 ... open 2": its counts add up (total = scheduled +
  unscheduled = completed + abandoned + missed + in progress + due now + later).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from kiosk_driver import PIN, Kiosk, seed, write_config
from layout_checks import problems

SIZES = [(800, 480, "zh"), (800, 480, "en"), (1280, 800, "zh"), (1280, 800, "en")]
STAFF, GUARD_WANG, GUARD_LI = "5A3B9C01", "7E11AA01", "7E11AA02"

EXTRA = """
[[buses]]
id = "rs485-1"
port = "/dev/lobby-rs485"
baudrate = 2400
parity = "E"
[[meters]]
id = "elec-lobby"
bus = "rs485-1"
protocol = "dlt645"
address = "000000001234"
kind = "electricity"
place = "A座配电房 Switch room"
[[meters]]
id = "water-main"
bus = "rs485-1"
protocol = "cjt188"
address = "00000000005678"
kind = "water"
leak_check = true
leak_from = "01:00"
leak_to = "05:00"
leak_interval_min = 60
place = "B1 水泵房 Pump room"
"""
KIOSK = """
[kiosk.floor_plan]
points = [
  { device = "nfc-lobby", x = 0.30, y = 0.55, label = "大堂读卡器" },
  { device = "elec-lobby", x = 0.12, y = 0.20, label = "电表" },
  { device = "water-main", x = 0.85, y = 0.80, label = "水表" },
]
"""


def prepare(config: Path) -> None:
    """An alert, a visitor (party of one), today's meter slots and lobby ratings in the store."""
    from lobby.cardhash import load_key
    from lobby.config import load_config, state_path
    from lobby.services import CheckInForm, LobbyServices
    from mqtt_bridge.alerts import AlertEngine
    from mqtt_bridge.store import Store
    from mqtt_bridge.timebase import rfc3339

    seed(config)
    cfg = load_config(config)
    store = Store(state_path(cfg, cfg.store.path))
    AlertEngine(store).raise_alert("meter.offline:elec-lobby", "warning", "电表离线 Meter offline",
                                   {"meter": "elec-lobby"})
    services = LobbyServices(store, cfg, card_key=load_key(cfg.state_dir))
    assert services.visitors.check_in(CheckInForm(name="Solo Visitor", phone="13700000001", host_id="h-0801",
                                                  purpose="meeting", consent=True)).ok
    for face in ("very_happy", "happy", "happy", "unhappy"):
        assert services.feedback.press(face).ok
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    start = now - dt.timedelta(hours=10)
    with store.transaction() as tx:
        for i in range(40):
            at = start + dt.timedelta(minutes=15 * i)
            at = at.replace(minute=at.minute - at.minute % 15)
            tx.execute("INSERT OR REPLACE INTO meter_slots VALUES (?, ?, 'energy_import', 'kWh', ?)",
                       ("elec-lobby", rfc3339(at), 1000 + i * 2.5 + (i // 4) * 1.5 + (i % 4 == 3) * 2))
            tx.execute("INSERT OR REPLACE INTO meter_slots VALUES (?, ?, 'volume_total', 'm3', ?)",
                       ("water-main", rfc3339(at), 50 + i * 0.08))
    store.close()


def counts_add_up(text: str) -> None:
    """The English patrol summary: total = scheduled + unscheduled = the sum of the states."""
    first = re.search(r"Tonight's rounds: (\d+) = (\d+) scheduled \+ (\d+) unscheduled", text)
    assert first, text
    total, scheduled, unscheduled = map(int, first.groups())
    parts = re.search(r"completed (\d+) · abandoned (\d+) · missed (\d+) · in progress (\d+) · due now (\d+) · "
                      r"later (\d+)", text)
    assert parts, text
    assert total == scheduled + unscheduled == sum(map(int, parts.groups())), text


@pytest.mark.parametrize("width,height,lang", SIZES, ids=[f"{w}x{h}-{lang}" for w, h, lang in SIZES])
def test_ui_staff_view(width: int, height: int, lang: str, display: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path / "lobby.toml", tmp_path / "state", 1883, extra=EXTRA, kiosk=KIOSK)
    prepare(config)
    k = Kiosk(display(width, height), config, tmp_path, lang=lang).start()
    min_target = 60 * min(width, height) / 480
    found: dict[str, list[str]] = {}

    def shot(name: str) -> dict[str, Any]:
        m = k.settled()
        k.screenshot(f"{width}x{height}-{lang}-staffview-{name}")
        issues = problems(m, min_target)
        if issues:
            found[name] = issues
        return m

    try:
        # two guards start rounds at the lobby checkpoint: two unscheduled rounds in progress
        for guard in (GUARD_WANG, GUARD_LI):
            k.tap_card(guard)
            k.wait(lambda m: m["overlay"].startswith("tap_patrol"), what="patrol confirmation")
            k.click("overlay_ok")
        k.tap_card(STAFF)
        k.wait_screen("staff")

        m = k.wait(lambda m: "alert_0_c1" in m["widgets"], what="the alert row in columns")
        title = m["widgets"]["alert_0_c1"]["text"]
        first = "Meter offline" if lang == "en" else "电表离线"
        assert title.startswith(first), title  # the display language leads, the other beside it
        assert "alerts_head" in m["widgets"]
        tabs = {n: w["text"] for n, w in m["widgets"].items() if n.startswith("tab_")}
        assert re.search(r"(告警|Alerts) 1\b", tabs["tab_alerts"]), tabs
        shot("alerts")

        k.click("tab_devices")
        m = k.wait(lambda m: "spark_1" in m["widgets"] and "plan_title" in m["widgets"], what="plan and sparklines")
        assert "elec-lobby" in m["widgets"]["meter_0"]["text"] and "kWh" in m["widgets"]["meter_0"]["text"]
        shot("devices")

        k.click("tab_patrol")
        m = k.wait(lambda m: "patrol_timeline" in m["widgets"] and "patrol_summary_0" in m["widgets"], what="patrol timeline")
        assert "2 unscheduled" in m["widgets"]["patrol_summary_0"]["text"]
        counts_add_up(m["widgets"]["patrol_summary_0"]["text"])
        shot("patrol")

        k.click("tab_today")
        m = k.wait(lambda m: "gauge" in m["widgets"] and "%" in m["widgets"]["gauge_value"]["text"],
                   what="the satisfaction gauge")
        shot("today")

        k.click("tab_people")
        m = k.wait(lambda m: "pin_question" in m["widgets"] and "key:0" in m["keys"], what="the PIN pad")
        assert "key:plus" not in m["keys"], sorted(m["keys"])  # a PIN is digits only
        assert {f"key:{d}" for d in "0123456789"} <= set(m["keys"])
        shot("pin")
        k.type_letters(PIN)
        k.click("key:enter")
        m = k.wait(lambda m: "people_count" in m["widgets"], what="people in the building")
        text = m["widgets"]["people_count"]["text"]
        assert "1 visitor in the building" in text and "1 visitors" not in text, text
        shot("people")
        k.click("staff_exit")
        k.wait_screen("home")
    finally:
        k.stop()
    assert "Traceback" not in k.log_text()
    assert not found, "\n".join(f"{name}: {p}" for name, ps in found.items() for p in ps)


def test_ui_patrol_counts_add_up_with_scheduled_rounds(display: Any, tmp_path: Path) -> None:
    """A fixed round planned later tonight and two ad-hoc rounds in progress: 3 = 1 + 2."""
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).astimezone(dt.timezone(dt.timedelta(hours=8)))
    schedule = f'schedules = [ {{ route = "night", kind = "fixed", times = ["{later:%H:%M}"] }} ]\n'
    config = write_config(tmp_path / "lobby.toml", tmp_path / "state", 1883)
    text = config.read_text(encoding="utf-8").replace('routes = [', schedule + 'routes = [', 1)
    config.write_text(text, encoding="utf-8")
    seed(config)
    k = Kiosk(display(800, 480), config, tmp_path, lang="en").start()
    try:
        for guard in (GUARD_WANG, GUARD_LI):
            k.tap_card(guard)
            k.wait(lambda m: m["overlay"].startswith("tap_patrol"), what="patrol confirmation")
            k.click("overlay_ok")
        k.tap_card(STAFF)
        k.wait_screen("staff")
        k.click("tab_patrol")
        m = k.wait(lambda m: "patrol_summary_0" in m["widgets"] and "unscheduled" in
                   m["widgets"]["patrol_summary_0"]["text"], what="the patrol summary")
        text = m["widgets"]["patrol_summary_0"]["text"]
        counts_add_up(text)
        assert "2 unscheduled" in text and "in progress 2" in text, text
    finally:
        k.stop()
    assert "Traceback" not in k.log_text()
