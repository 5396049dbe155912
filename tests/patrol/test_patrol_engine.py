"""The patrol engine on a hand-driven clock: a whole night, and each classification rule."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from lobby.patrol import ManualClock, PatrolEngine, TickResult
from mqtt_bridge.store import Store
from tests.patrol.patrol_helpers import (
    LI, PATROL, ROOF_TAG, SHANGHAI, STAIRS_TAG, STRANGER, WANG, alert_rows, at, data_of, envelopes,
)


class Night:
    """Drives the clock forward in 30 s steps, ticking like the gateway does, and remembers what fired when."""

    def __init__(self, engine: PatrolEngine, clock: ManualClock) -> None:
        self.engine, self.clock = engine, clock
        self.fired: list[tuple[dt.datetime, TickResult]] = []

    def local(self) -> dt.datetime:
        return self.clock.instant().wall.astimezone(SHANGHAI)

    def run_until(self, moment: dt.datetime, step_s: float = 30) -> None:
        while self.local() < moment:
            self.clock.advance(min(step_s, (moment - self.local()).total_seconds()))
            result = self.engine.tick()
            if result.missed or result.not_started or result.closed or result.planned or result.cleared \
                    or result.report_day:
                self.fired.append((self.local(), result))

    def when(self, what: str, match: Any = None) -> list[dt.datetime]:
        found = []
        for moment, result in self.fired:
            items = getattr(result, what)
            if isinstance(items, list) and any(match is None or match == item or (isinstance(item, tuple) and match in item)
                                               for item in items):
                found.append(moment)
            elif not isinstance(items, list) and items and (match is None or items == match):
                found.append(moment)
        return found

    def scan(self, uid: str, reader: str, moment: dt.datetime) -> Any:
        self.run_until(moment)
        return self.engine.scan(uid, reader)


def test_a_whole_night_of_fixed_and_random_rounds(engine: PatrolEngine, clock: ManualClock, store: Store) -> None:
    night = Night(engine, clock)
    r1_time, r2_time = [o.planned.astimezone(SHANGHAI) for o in engine.occurrences(dt.date(2026, 11, 25))
                        if o.kind == "random"]
    assert at(25, 23) <= r1_time < r2_time < at(26, 1, 30) and r2_time - r1_time > dt.timedelta(minutes=45)

    # 22:00 fixed round: written when its early window opens (21:50), not before
    night.run_until(at(25, 21, 49, 30))
    assert store.scalar("SELECT count(*) FROM patrol_rounds") == 0
    night.run_until(at(25, 21, 50))
    assert night.when("planned", "night@2026-11-25T22:00") == [at(25, 21, 50)]

    first = night.scan(WANG, "nfc-lobby", at(25, 22, 2))
    assert (first.status, first.point, first.points, first.next_checkpoint_id) == ("on_time", 1, 4, "cp-b1")
    assert first.next_due == at(25, 22, 17) and first.ok
    assert first.message_zh.startswith("谢谢") and "22:17" in first.message_en
    assert night.scan(WANG, "nfc-lobby", at(25, 22, 3)).status == "repeated"  # counted once
    assert night.scan(WANG, "nfc-b1", at(25, 22, 10)).status == "on_time"
    assert night.scan(WANG, "nfc-hand", at(25, 22, 11)).status == "guard"  # the handheld now reads for g-wang
    skipped = night.scan(ROOF_TAG, "nfc-hand", at(25, 22, 18))  # stairs skipped
    assert (skipped.status, skipped.point, skipped.ok) == ("out_of_order", 4, False)
    assert "消防楼梯" in skipped.message_zh and "first" in skipped.message_en
    round1 = first.round_id

    # stairs were due 15 min after B1 (22:25) plus 5 min grace: missed by the timer, not before
    night.run_until(at(25, 22, 30))
    assert alert_rows(store) == {}
    night.run_until(at(25, 22, 31))
    key = f"patrol.missed:{round1}:cp-stairs"
    assert night.when("missed", "cp-stairs") == [at(25, 22, 30, 30)]
    alert = alert_rows(store)[key]
    assert (alert["severity"], alert["state"]) == ("warning", "active")
    assert alert["detail"]["checkpoint_id"] == "cp-stairs" and alert["detail"]["guard_id"] == "g-wang"
    assert "王" not in str(alert)  # no guard names in alerts

    assert night.scan(STRANGER, "nfc-hand", at(25, 22, 40)).status == "unknown_tag"
    unknown_guard = night.scan(STRANGER, "nfc-b1", at(25, 22, 41))
    assert (unknown_guard.status, unknown_guard.checkpoint_id, unknown_guard.round_id) == ("unknown_guard", "cp-b1", None)
    stray = night.scan(STAIRS_TAG, "nfc-hand", at(25, 22, 42))  # g-wang again, but no round to belong to
    assert (stray.status, stray.round_id) == ("out_of_order", None) and "大堂" in stray.message_zh

    # random round 1: g-li, the roof a little late (within grace)
    start = r1_time + dt.timedelta(minutes=2)
    li = night.scan(LI, "nfc-lobby", start)
    assert li.status == "on_time" and li.round_id != round1
    assert night.scan(LI, "nfc-b1", start + dt.timedelta(minutes=6)).status == "on_time"
    assert night.scan(LI, "nfc-hand", start + dt.timedelta(minutes=7)).status == "guard"
    assert night.scan(STAIRS_TAG, "nfc-hand", start + dt.timedelta(minutes=13)).status == "on_time"
    roof = night.scan(ROOF_TAG, "nfc-hand", start + dt.timedelta(minutes=31))  # due +15 = 28, grace to 33
    assert (roof.status, roof.round_outcome, roof.ok) == ("late", "completed", True)

    # random round 2: nobody comes. Its start window (30 min) and grace (5 min) pass: one alert
    night.run_until(r2_time + dt.timedelta(minutes=35))
    assert night.when("not_started") == []
    night.run_until(r2_time + dt.timedelta(minutes=36))
    assert night.when("not_started") == [r2_time + dt.timedelta(minutes=35, seconds=30)]
    r2_id = night.fired[-1][1].not_started[0]
    assert alert_rows(store)[f"patrol.not_started:{r2_id}"]["state"] == "active"

    # 02:00 fixed round: g-wang starts 3 min after the start window, within grace
    late = night.scan(WANG, "nfc-lobby", at(26, 2, 33))
    assert late.status == "late" and late.next_due == at(26, 2, 48)
    assert night.scan(WANG, "nfc-b1", at(26, 2, 40)).status == "on_time"
    assert night.scan(WANG, "nfc-hand", at(26, 2, 41)).status == "guard"
    assert night.scan(STAIRS_TAG, "nfc-hand", at(26, 2, 50)).status == "on_time"
    done = night.scan(ROOF_TAG, "nfc-hand", at(26, 3, 0))
    assert (done.status, done.round_outcome) == ("on_time", "completed")
    assert "本轮巡更已结束" in done.message_zh

    # handover at 06:00 clears the night's patrol alerts (they stay visible until acknowledged)
    night.run_until(at(26, 5, 59, 30))
    assert all(a["state"] == "active" for a in alert_rows(store).values())
    night.run_until(at(26, 6, 0))
    assert {a["state"] for a in alert_rows(store).values()} == {"cleared"}
    assert all(not a["acked"] for a in alert_rows(store).values())

    # 07:00: the report of the 25th is published once
    night.run_until(at(26, 7, 30))
    assert night.when("report_day") == [at(26, 7, 0)]

    statuses = [d["status"] for d in data_of(store, "patrol.scan")]
    assert statuses == ["on_time", "repeated", "on_time", "guard", "out_of_order", "unknown_tag", "unknown_guard",
                        "out_of_order", "on_time", "on_time", "guard", "on_time", "late",
                        "late", "on_time", "guard", "on_time", "on_time"]
    rounds = data_of(store, "patrol.round")
    assert [(r["outcome"], r["schedule_kind"], r["done"], r["missed"], r["late"], r["out_of_order"]) for r in rounds] == [
        ("abandoned", "fixed", 3, 1, 0, 1), ("completed", "random", 4, 0, 1, 0),
        ("not_started", "random", 0, 4, 0, 0), ("completed", "fixed", 4, 0, 1, 0)]
    assert rounds[0]["missed_checkpoints"] == ["cp-stairs"] and rounds[0]["repeated"] == 1
    assert [r["guard_id"] for r in rounds] == ["g-wang", "g-li", None, "g-wang"]
    report = data_of(store, "patrol.report")
    assert len(report) == 1 and report[0]["day"] == "2026-11-25"
    assert report[0]["rounds"]["planned"] == 2 and report[0]["points"]["missed"] == 1
    # the data carries the engine's clock: the abandoned round was ended by the 22:30:30 tick
    assert rounds[0]["ended_ts"] == "2026-11-25T14:30:30.000Z"
    # central gets ids, never names
    assert all("王" not in str(e) and "李" not in str(e) for e in envelopes(store))


def test_a_scan_arriving_before_the_timer_caught_up_is_too_late(engine: PatrolEngine, clock: ManualClock,
                                                                 store: Store) -> None:
    clock.advance(minutes=30)  # 21:30, no schedule open: an ad hoc round
    start = engine.scan(WANG, "nfc-lobby")
    assert start.status == "on_time" and start.round_id
    clock.advance(minutes=21)  # B1 was due 21:45, grace to 21:50; no tick ran meanwhile
    result = engine.scan(WANG, "nfc-b1")
    assert (result.status, result.ok) == ("too_late", False)
    assert "漏检" in result.message_zh
    assert f"patrol.missed:{start.round_id}:cp-b1" in alert_rows(store)
    # it is one alert however often the guard taps afterwards
    assert engine.scan(WANG, "nfc-b1").status in ("too_late", "repeated")
    assert alert_rows(store)[f"patrol.missed:{start.round_id}:cp-b1"]["count"] == 1


def test_the_next_points_are_due_one_window_after_each_other_when_nothing_is_tapped(
        engine: PatrolEngine, clock: ManualClock, store: Store) -> None:
    clock.advance(minutes=30)
    start = engine.scan(WANG, "nfc-lobby")  # 21:30
    missed_at = {}
    for _ in range(120):
        clock.advance(30)
        for round_id, cp in engine.tick().missed:
            missed_at[cp] = clock.instant().wall.astimezone(SHANGHAI)
    # B1 due 21:45, stairs 22:00, roof 22:15; each missed after 5 min grace (first tick past it)
    assert missed_at == {"cp-b1": at(25, 21, 50, 30), "cp-stairs": at(25, 22, 5, 30), "cp-roof": at(25, 22, 20, 30)}
    (r,) = data_of(store, "patrol.round")
    assert (r["round_id"], r["outcome"], r["done"], r["missed"]) == (start.round_id, "abandoned", 1, 3)


def test_an_early_start_of_a_scheduled_round_is_recorded_as_early(engine: PatrolEngine, clock: ManualClock) -> None:
    clock.advance(minutes=55)  # 21:55, five minutes before the 22:00 round
    result = engine.scan(WANG, "nfc-lobby")
    assert result.status == "early" and result.ok and "早于计划" in result.message_zh
    assert result.next_due == at(25, 22, 10)
    round_row = engine.store.query("SELECT plan_key, schedule_kind FROM patrol_rounds WHERE id = ?", (result.round_id,))[0]
    assert round_row == {"plan_key": "night@2026-11-25T22:00", "schedule_kind": "fixed"}


def test_tapping_one_point_again_and_again_never_visits_the_others(engine: PatrolEngine, clock: ManualClock,
                                                                   store: Store) -> None:
    clock.advance(minutes=30)
    engine.scan(WANG, "nfc-lobby")
    for _ in range(10):
        clock.advance(20)
        assert engine.scan(WANG, "nfc-lobby").status == "repeated"
    points = store.query("SELECT checkpoint_id, state, repeats FROM patrol_points ORDER BY pos")
    assert points[0] == {"checkpoint_id": "cp-lobby", "state": "on_time", "repeats": 10}
    assert [p["state"] for p in points[1:]] == ["pending"] * 3


def test_a_tag_without_a_guard_card_first_is_an_unknown_guard(engine: PatrolEngine, clock: ManualClock) -> None:
    result = engine.scan(STAIRS_TAG, "nfc-hand")
    assert (result.status, result.checkpoint_id, result.guard_id, result.ok) == ("unknown_guard", "cp-stairs", None, False)
    assert "请先刷您的巡更人员卡" in result.message_zh
    # the guard session on a device ends session_min (60) after its last scan
    engine.scan(WANG, "nfc-hand")
    clock.advance(minutes=61)
    assert engine.scan(STAIRS_TAG, "nfc-hand").status == "unknown_guard"


def test_a_guard_card_sent_by_central_is_recognised(engine: PatrolEngine, store: Store) -> None:
    from lobby.cardhash import card_hash
    from tests.patrol.patrol_helpers import CARD_KEY

    with store.transaction() as tx:
        tx.execute("INSERT INTO cards (uid_hash, role, holder_id, active, source, updated_ts) "
                   "VALUES (?, 'guard', 'G-0042', 1, 'central', '2026-11-25T00:00:00.000Z')",
                   (card_hash(CARD_KEY, "7E11AA99"),))
    assert engine.card_role("7E11AA99") == "guard" and engine.card_role(ROOF_TAG) == "checkpoint"
    assert engine.card_role(STRANGER) is None
    result = engine.scan("7E11AA99", "nfc-lobby")
    assert (result.status, result.guard_id) == ("on_time", "G-0042")


def _any_order_patrol() -> str:
    text = PATROL.replace('max_gap_min = 15 }', 'max_gap_min = 15, ordered = false }')
    head, _, _ = text.partition("schedules = [")
    return head + "schedules = []\n"


def test_any_order_routes_never_flag_order_and_share_one_deadline(make_engine: Any, clock: ManualClock,
                                                                  store: Store) -> None:
    engine = make_engine(_any_order_patrol())
    engine.scan(WANG, "nfc-lobby")  # 21:00; the other three points: 45 min in all
    engine.scan(WANG, "nfc-hand")
    clock.advance(minutes=5)
    roof = engine.scan(ROOF_TAG, "nfc-hand")
    assert roof.status == "on_time" and roof.next_due == at(25, 21, 45)
    clock.advance(minutes=40)  # 21:45: the whole budget used
    assert engine.scan(STAIRS_TAG, "nfc-hand").status == "on_time"
    clock.advance(minutes=6)  # 21:51: B1 never visited: missed after the grace
    assert engine.tick().missed == [(roof.round_id, "cp-b1")]
    (r,) = data_of(store, "patrol.round")
    assert (r["outcome"], r["done"], r["out_of_order"]) == ("abandoned", 3, 0)


def test_a_route_that_ends_where_it_starts_and_min_gap_early(make_engine: Any, clock: ManualClock, store: Store) -> None:
    text = PATROL.replace('checkpoints = ["cp-lobby", "cp-b1", "cp-stairs", "cp-roof"], max_gap_min = 15 }',
                          'checkpoints = ["cp-lobby", "cp-b1", "cp-lobby"], max_gap_min = 15, min_gap_min = 2, '
                          'windows_min = { cp-b1 = 10 } }')
    head, _, _ = text.partition("schedules = [")
    engine = make_engine(head + "schedules = []\n")
    first = engine.scan(WANG, "nfc-lobby")
    assert first.next_due == at(25, 21, 10)  # the B1 window is 10 min
    clock.advance(30)
    assert engine.scan(WANG, "nfc-lobby").status == "repeated"  # not the closing lobby point
    clock.advance(60)
    assert engine.scan(WANG, "nfc-b1").status == "early"  # 1.5 min after the lobby: faster than anyone walks
    clock.advance(minutes=5)
    closing = engine.scan(WANG, "nfc-lobby")
    assert (closing.status, closing.point, closing.round_outcome) == ("on_time", 3, "completed")
    (r,) = data_of(store, "patrol.round")
    assert (r["done"], r["early"], r["repeated"]) == (3, 1, 1)


def test_scan_rejects_malformed_input(engine: PatrolEngine) -> None:
    with pytest.raises(ValueError):
        engine.scan("XYZ", "nfc-lobby")
    with pytest.raises(ValueError):
        engine.scan(WANG, "Reader With Spaces")


def test_tag_events_from_a_reader_are_scanned(engine: PatrolEngine) -> None:
    from drivers.nfc import TagEvent

    assert engine.on_tag(TagEvent("removed", WANG, "classic_1k", "nfc-lobby")) is None
    result = engine.on_tag(TagEvent("tap", WANG, "classic_1k", "nfc-lobby"))
    assert result is not None and result.status == "on_time" and result.checkpoint_id == "cp-lobby"


def test_a_last_tap_at_the_start_point_after_a_round_is_a_repeat_not_a_new_round(
        make_engine: Any, clock: ManualClock, store: Store) -> None:
    engine = make_engine(PATROL.partition("schedules = [")[0] + "schedules = []\n")
    for uid, reader in ((WANG, "nfc-lobby"), (WANG, "nfc-b1"), (WANG, "nfc-hand"), (STAIRS_TAG, "nfc-hand"),
                        (ROOF_TAG, "nfc-hand")):
        clock.advance(minutes=3)
        last = engine.scan(uid, reader)
    assert last.round_outcome == "completed"
    clock.advance(minutes=10)  # back in the lobby, within one window of the last point
    again = engine.scan(WANG, "nfc-lobby")
    assert (again.status, again.round_id) == ("repeated", last.round_id)
    assert store.scalar("SELECT count(*) FROM patrol_rounds") == 1
    clock.advance(minutes=30)  # much later: a new round
    new = engine.scan(WANG, "nfc-lobby")
    assert new.status == "on_time" and new.round_id != last.round_id
