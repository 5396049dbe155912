"""The report for a day: rounds planned and done, missed and late points, per guard; the CLI table and --json."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from lobby.patrol import ManualClock, PatrolEngine
from mqtt_bridge.store import Store
from tests.patrol.patrol_helpers import LI, ROOF_TAG, SHANGHAI, STAIRS_TAG, STRANGER, WANG, at, config_text, data_of

DAY = dt.date(2026, 11, 25)


def _run(engine: PatrolEngine, clock: ManualClock, until: dt.datetime) -> None:
    while clock.instant().wall.astimezone(SHANGHAI) < until:
        clock.advance(30)
        engine.tick()


def _evening(engine: PatrolEngine, clock: ManualClock) -> None:
    taps = [
        (at(25, 22, 2), WANG, "nfc-lobby"), (at(25, 22, 10), WANG, "nfc-b1"), (at(25, 22, 11), WANG, "nfc-hand"),
        (at(25, 22, 28), STAIRS_TAG, "nfc-hand"),  # due 22:25: late, within grace
        (at(25, 22, 40), ROOF_TAG, "nfc-hand"),
        (at(25, 22, 50), STRANGER, "nfc-hand"),
        (at(25, 23, 10), LI, "nfc-lobby"),  # an unscheduled round, then nothing
    ]
    for moment, uid, reader in taps:
        _run(engine, clock, moment)
        engine.scan(uid, reader)
    _run(engine, clock, at(26, 1, 0))


def test_the_report_of_a_day(engine: PatrolEngine, clock: ManualClock, store: Store) -> None:
    _evening(engine, clock)
    report = engine.report(DAY)
    assert report["day"] == "2026-11-25"
    assert report["rounds"] == {"planned": 2, "started": 2, "completed": 1, "abandoned": 1, "not_started": 1,
                                "unscheduled": 1, "open": 0, "waiting": 0, "upcoming": 0}
    assert report["points"] == {"visited": 5, "missed": 3, "on_time": 4, "late": 1, "early": 0, "out_of_order": 0,
                                "repeated": 0}
    assert report["scans"] == {"guard": 1, "late": 1, "on_time": 4, "unknown_tag": 1}
    assert report["guards"] == [
        {"guard_id": "g-li", "rounds": 1, "completed": 0, "abandoned": 1, "open": 0, "visited": 1, "missed": 3,
         "late": 0, "early": 0, "out_of_order": 0},
        {"guard_id": "g-wang", "rounds": 1, "completed": 1, "abandoned": 0, "open": 0, "visited": 4, "missed": 0,
         "late": 1, "early": 0, "out_of_order": 0}]
    assert [(m["checkpoint_id"], m["due"]) for m in report["missed_points"]] == [
        ("cp-b1", "23:25"), ("cp-stairs", "23:40"), ("cp-roof", "23:55")]
    kinds = [(r["kind"], r["planned"], r["started"], r["outcome"]) for r in report["round_list"]]
    assert kinds == [("fixed", "22:00", "22:02", "completed"), ("ad_hoc", None, "23:10", "abandoned"),
                     ("random", kinds[2][1], None, "not_started")]
    # the next day so far: the second random round (not started) is there, the rest is still to come
    tomorrow = engine.report(DAY + dt.timedelta(days=1))
    assert tomorrow["rounds"]["planned"] >= 3 and tomorrow["rounds"]["upcoming"] >= 2
    # nothing at all on a day before the system ran
    empty = engine.report(DAY - dt.timedelta(days=3))
    assert empty["round_list"] == [] and empty["points"]["visited"] == 0


def test_the_daily_report_is_published_once_after_report_at(engine: PatrolEngine, clock: ManualClock,
                                                           store: Store) -> None:
    _evening(engine, clock)
    _run(engine, clock, at(26, 6, 59, 30))
    assert data_of(store, "patrol.report") == []
    _run(engine, clock, at(26, 9, 0))
    (published,) = data_of(store, "patrol.report")
    assert published["day"] == "2026-11-25"
    assert published["rounds"]["not_started"] == 1 and len(published["missed_points"]) == 3
    assert "王" not in json.dumps(published, ensure_ascii=False)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "lobby.toml"
    path.write_text(config_text(tmp_path / "state", store_path=tmp_path / "lobby.db"))
    return path


def test_lobby_patrol_report_prints_a_table_and_json(engine: PatrolEngine, clock: ManualClock, config_file: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from lobby.cli import main

    _evening(engine, clock)
    assert main(["patrol", "--config", str(config_file), "report", "2026-11-25"]) == 0
    table = capsys.readouterr().out
    assert "巡更日报 Patrol report 2026-11-25 (Asia/Shanghai)" in table
    assert "completed 1  abandoned 1  not started 1  unscheduled 1" in table
    assert "missed 3" in table and "late 1" in table
    wang = next(line for line in table.splitlines() if line.startswith("g-wang"))
    assert wang.split()[:9] == ["g-wang", "1", "1", "0", "4", "0", "1", "0", "0"] and wang.endswith("王保安")
    assert "due 23:25" in table and "cp-b1 B1 停车场" in table

    assert main(["patrol", "--config", str(config_file), "report", "2026-11-25", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = engine.report(DAY)
    for key in ("points", "scans", "guards", "missed_points", "round_list"):
        assert printed[key] == expected[key], key

    assert main(["patrol", "--config", str(config_file), "report", "today", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["day"] == dt.datetime.now(SHANGHAI).date().isoformat()
    with pytest.raises(SystemExit):
        main(["patrol", "--config", str(config_file), "report", "25/11/2026"])
