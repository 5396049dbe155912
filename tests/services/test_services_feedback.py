"""Feedback faces: reasons, misuse flagged and excluded, daily/monthly satisfaction published once."""

from __future__ import annotations

import datetime as dt

from lobby.services import LobbyServices
from tests.services.services_helpers import SHANGHAI, events


def press_many(services: LobbyServices, clock, face: str, n: int, gap_s: float = 30, **kw) -> list:  # noqa: ANN001
    out = []
    for _ in range(n):
        out.append(services.feedback.press(face, **kw))
        clock.advance(gap_s)
    return out


def test_faces_thank_everyone_the_same_and_offer_a_reason_after_unhappy(services: LobbyServices) -> None:
    happy = services.feedback.press("very_happy")
    unhappy = services.feedback.press("unhappy")
    assert happy.message.zh == "谢谢您的评价！" and not happy.value.ask_reason
    assert unhappy.value.ask_reason and "可跳过" in unhappy.message.zh
    assert services.feedback.add_reason(unhappy.value.press_id, "waiting").ok
    assert services.feedback.add_reason(unhappy.value.press_id, "noise").status == "unknown_press"  # once only
    assert services.feedback.add_reason(happy.value.press_id, "waiting").status == "unknown_press"
    assert services.feedback.add_reason(unhappy.value.press_id, "bribery").status == "invalid_reason"
    assert services.feedback.press("neutral").status == "invalid_face"
    assert services.feedback.press("happy", reason="waiting").status == "invalid_reason"
    assert events(services.ctx.store, "feedback.reason") == [{"press_id": unhappy.value.press_id, "reason": "waiting"}]
    assert services.ctx.store.scalar("SELECT place FROM feedback LIMIT 1") == "大堂 Lobby"


def test_hammered_face_is_flagged_not_dropped_and_left_out_of_scores(services: LobbyServices, clock) -> None:  # noqa: ANN001
    press_many(services, clock, "happy", 3, gap_s=60)
    press_many(services, clock, "unhappy", 2, gap_s=60)
    burst = press_many(services, clock, "very_happy", 9, gap_s=0.5)  # a child at the kiosk
    assert [r.value.flagged for r in burst] == [False] * 5 + [True] * 4
    store = services.ctx.store
    assert store.scalar("SELECT count(*) FROM feedback WHERE face = 'very_happy'") == 9  # kept, not dropped
    assert store.scalar("SELECT count(*) FROM feedback WHERE flagged = 1") == 9  # the earlier five flagged too
    (flag_event,) = events(store, "feedback.flagged")
    assert len(flag_event["press_ids"]) == 5 and flag_event["reason"] == "repeated_presses"
    today = services.feedback.satisfaction("day", "2026-11-25")
    assert (today.presses, today.counted, today.flagged, today.satisfied, today.pct) == (14, 5, 9, 3, 60.0)
    assert today.met_target is False and today.faces == {"very_unhappy": 0, "unhappy": 2, "happy": 3, "very_happy": 0}


def test_presses_spread_out_or_elsewhere_are_not_misuse(services: LobbyServices, clock) -> None:  # noqa: ANN001
    assert not any(r.value.flagged for r in press_many(services, clock, "happy", 8, gap_s=3))  # 8 in 24 s: <= 5 per 10 s
    for source in ("b-lobby", "b-lift", "kiosk"):
        assert not any(r.value.flagged for r in press_many(services, clock, "very_happy", 5, gap_s=0.1, source=source,
                                                           place="电梯厅 Lift lobby"))
    clock.jump_wall(seconds=-3600)  # a wall step does not make old presses look recent
    assert not services.feedback.press("happy").value.flagged


def test_gpio_buttons_use_the_same_module(services: LobbyServices) -> None:
    outcome = services.feedback.press("unhappy", place="卫生间 Toilet 2F", source="fb-toilet-2f")
    assert outcome.ok and not outcome.value.ask_reason  # a button cannot offer a reason list
    (event,) = events(services.ctx.store, "feedback.press")
    assert event["source"] == "fb-toilet-2f" and event["place"] == "卫生间 Toilet 2F"
    assert services.feedback.press("happy", source="Not An Id!").status == "invalid_source"


def test_daily_and_monthly_satisfaction_are_published_once(services: LobbyServices, clock) -> None:  # noqa: ANN001
    press_many(services, clock, "happy", 6, gap_s=120)
    press_many(services, clock, "unhappy", 1)
    assert services.feedback.publish_periods() == []  # today is not finished
    clock.set_wall(dt.datetime(2026, 11, 30, 9, 0, tzinfo=SHANGHAI))
    press_many(services, clock, "very_happy", 1)
    clock.set_wall(dt.datetime(2026, 12, 1, 0, 5, tzinfo=SHANGHAI))
    published = services.daily()["satisfaction"]
    assert [(p.period, p.start) for p in published] == [("day", "2026-11-25"), ("day", "2026-11-30"),
                                                        ("month", "2026-11")]
    for _ in range(3):
        assert services.daily()["satisfaction"] == []  # idempotent
    daily = events(services.ctx.store, "feedback.daily")
    assert [d["start"] for d in daily] == ["2026-11-25", "2026-11-30"]
    assert daily[0]["satisfaction_pct"] == 85.7 and daily[0]["met_target"] is True and daily[0]["target_pct"] == 85
    (monthly,) = events(services.ctx.store, "feedback.monthly")
    assert (monthly["counted"], monthly["satisfied"], monthly["satisfaction_pct"]) == (8, 7, 87.5)
    assert services.feedback.periods("month")[0]["satisfaction_pct"] == 87.5


def test_flagged_presses_can_be_counted_by_config(make_services, clock) -> None:  # noqa: ANN001
    services = make_services("[feedback]\nexclude_flagged = false\nmisuse_max_presses = 2\n")
    press_many(services, clock, "very_unhappy", 4, gap_s=1)
    day = services.feedback.satisfaction("day", "2026-11-25")
    assert (day.flagged, day.counted, day.pct) == (4, 4, 0.0)


def test_presses_at_local_midnight_land_on_the_site_day(services: LobbyServices, clock) -> None:  # noqa: ANN001
    clock.set_wall(dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=SHANGHAI))
    services.feedback.press("happy")
    clock.set_wall(dt.datetime(2026, 12, 1, 0, 0, 1, tzinfo=SHANGHAI))
    services.feedback.press("happy")
    assert services.ctx.store.query("SELECT site_day, site_month FROM feedback ORDER BY ts") == [
        {"site_day": "2026-11-30", "site_month": "2026-11"}, {"site_day": "2026-12-01", "site_month": "2026-12"}]
