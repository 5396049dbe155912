"""Issue #14: the KPIs measure what the sources define; every setting drives a behaviour."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lobby.commands import CommandContext, lobby_specs
from lobby.services import CheckInForm, LobbyServices
from lobby.services.feedback import FACES, misuse_reason
from lobby.services.shifts import duty
from mqtt_bridge.alerts import AlertEngine
from mqtt_bridge.clock import ManualClock
from mqtt_bridge.commands import CommandIntake
from tests.services.services_helpers import SHANGHAI, command, events


@pytest.fixture
def intake(services: LobbyServices) -> CommandIntake:
    store = services.ctx.store
    ctx = CommandContext(services.ctx.cfg, None, AlertEngine(store), services.ctx.card_key)
    return CommandIntake(store, lobby_specs(ctx, services.ctx.clock), 65536)


def test_defect_a_child_alternating_two_faces_does_not_move_the_score(services: LobbyServices,
                                                                      clock: ManualClock) -> None:
    day = services.ctx.site_day(clock.instant())
    for face in ["happy"] * 22 + ["unhappy"] * 3:  # a morning of real visitors: 88.0 %
        assert services.feedback.press(face).ok
        clock.advance(minutes=5)
    assert services.feedback.satisfaction("day", day).pct == 88.0
    for i in range(12):  # 12 presses in 12 s, back and forth between two happy faces
        services.feedback.press("very_happy" if i % 2 else "happy")
        clock.advance(1)
    after = services.feedback.satisfaction("day", day)
    assert after.pct == 88.0 and after.flagged == 12 and after.presses == 37
    reasons = {r["flag_reason"] for r in services.ctx.store.query("SELECT flag_reason FROM feedback WHERE flagged = 1")}
    assert reasons <= {"burst", "alternation"} and reasons
    assert {e["reason"] for e in events(services.ctx.store, "feedback.flagged")} <= {"burst", "alternation"}


def test_a_few_quick_changes_of_face_are_flagged_as_alternation(services: LobbyServices, clock: ManualClock) -> None:
    for face in ("happy", "unhappy", "happy", "unhappy"):
        services.feedback.press(face)
        clock.advance(2)
    rows = services.ctx.store.query("SELECT flagged, flag_reason FROM feedback ORDER BY mono_ns")
    assert [r["flagged"] for r in rows] == [1, 1, 1, 1] and rows[-1]["flag_reason"] == "alternation"
    clock.advance(60)
    assert not services.feedback.press("happy").value.flagged  # the next visitor is counted


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list(FACES)), min_size=1, max_size=12))
def test_misuse_rules_flag_bursts_and_alternation_and_nothing_calmer(faces: list[str]) -> None:
    reason = misuse_reason(faces, max_presses=5, max_changes=3)
    changes = sum(1 for a, b in zip(faces, faces[1:]) if a != b)
    assert (reason is not None) == (len(faces) > 5 or changes >= 3)


def test_survey_results_come_from_central_and_stay_apart_from_faces(services: LobbyServices,
                                                                    intake: CommandIntake) -> None:
    services.feedback.press("unhappy")
    result = command(intake, "survey.result", {"survey_id": "2026-h2", "handed_out_on": "2026-11-02",
                                               "units_occupied": 200, "handed_out": 200, "returned": 110,
                                               "satisfied": 96})
    assert result["ok"], result
    # handed out Mon 2 Nov 2026: 15 working days later is Mon 23 Nov
    assert result["result"] == {"survey_id": "2026-h2", "return_due": "2026-11-23",
                                "met": {"handout": True, "return": False, "satisfaction": True}}
    (event,) = events(services.ctx.store, "feedback.survey")
    assert event["return_pct"] == 55.0 and event["return_target_pct"] == 60 and event["satisfaction_pct"] == 87.3
    day = services.ctx.site_day(services.ctx.now())
    assert services.feedback.satisfaction("day", day).pct == 0.0  # the faces are their own figure
    bad = command(intake, "survey.result", {"survey_id": "x", "handed_out_on": "2026-11-02", "units_occupied": 10,
                                            "handed_out": 5, "returned": 6, "satisfied": 1})
    assert bad["ok"] is False and "returned <= handed_out" in bad["error"]
    lines = {tid: zh for tid, zh, _ in services_today_lines(services)}
    assert "满意度调查 2026-h2" in lines["kpi_survey"] and "回收 55.0%" in lines["kpi_survey"]


def services_today_lines(services: LobbyServices) -> list[tuple[str, str, str]]:
    from lobby.dashboard import kpi_lines

    return kpi_lines(services, services.ctx.site_day(services.ctx.now()))


def test_rule_greet_a_held_visitor_within_a_minute(services: LobbyServices, make_services,
                                                  clock: ManualClock) -> None:  # noqa: ANN001
    services = make_services('[visitors]\nwatchlist_enabled = true\n[[visitors.watchlist]]\nid = "wl-1"\n'
                             'name = "王芳"\nnote = "see duty log 2026-03-02"\n')
    held = services.visitors.check_in(CheckInForm(name="王芳", phone="13900001111", host_id="h-1203",
                                                  purpose="meeting", consent=True))
    assert held.status == "held" and "1分钟内" in held.message.zh and "within 1 minute" in held.message.en
    alerts = AlertEngine(services.ctx.store)
    key = f"visitor.held:{held.value.visit_id}"
    assert alerts.get(key)["severity"] == "warning" and "see duty log" in alerts.get(key)["title"]
    clock.advance(59)
    assert services.every_minute()["waiting"] == []
    clock.advance(1)
    assert services.every_minute()["waiting"] == [held.value.visit_id]
    assert alerts.get(key)["severity"] == "critical" and "请立即接待" in alerts.get(key)["title"]
    assert services.every_minute()["waiting"] == []  # once


def test_rule_handover_incoming_person_arrives_5_minutes_early(services: LobbyServices, clock: ManualClock) -> None:
    clock.set_wall(dt.datetime(2026, 11, 25, 12, 0, tzinfo=SHANGHAI))
    now = duty(services.ctx, clock.instant())
    assert now is not None and now.shift == "早班 Day" and now.next_start.hour == 13
    assert now.arrive_by == dt.datetime(2026, 11, 25, 12, 55, tzinfo=SHANGHAI)
    assert "请于12:55到岗交接" in now.text()[0] and "arrive by 12:55" in now.text()[1]
    clock.set_wall(dt.datetime(2026, 11, 25, 23, 0, tzinfo=SHANGHAI))
    night = duty(services.ctx, clock.instant())
    assert night.shift == "夜班 Night" and night.arrive_by == dt.datetime(2026, 11, 26, 5, 55, tzinfo=SHANGHAI)


def test_rule_shifts_cover_24_hours(make_cfg) -> None:  # noqa: ANN001
    from lobby.config import ConfigError

    with pytest.raises(ConfigError, match="22:00 uncovered"):
        make_cfg('[shifts]\nshifts = [{name = "早班", start = "06:00", end = "13:00"}, '
                 '{name = "中班", start = "13:00", end = "22:00"}]\n')


def test_retired_fee_collection_key_is_accepted_and_ignored(make_cfg, caplog) -> None:  # noqa: ANN001
    cfg = make_cfg("[kpi]\nfee_collection_target_pct = 80\n")
    assert not hasattr(cfg.kpi, "fee_collection_target_pct")
    assert "fee_collection_target_pct is no longer used" in caplog.text
