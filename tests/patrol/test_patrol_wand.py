"""Wand uploads: CSV and JSON, bad rows reported by line, good rows kept, re-imports idempotent."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from lobby.patrol import ManualClock, PatrolEngine, WandFileError
from mqtt_bridge.store import Store
from tests.patrol.patrol_helpers import SHANGHAI, alert_rows, at, config_text, data_of

WAND_PATROL = """
[patrol]
grace_min = 5
start_window_min = 30
checkpoints = [
  { id = "cp-gate", name = "东门", place = "East gate", tag_uid = "04A1B2C3D4E501" },
  { id = "cp-stairs", name = "消防楼梯", place = "Fire stairs", tag_uid = "04A1B2C3D4E502" },
  { id = "cp-roof", name = "天台设备房", place = "Roof plant room", tag_uid = "04A1B2C3D4E503" },
]
guards = [{ id = "g-wang", name = "王保安", card_uid = "7E11AA01" }]
routes = [{ id = "outer", name = "外围巡更", checkpoints = ["cp-gate", "cp-stairs", "cp-roof"], max_gap_min = 15 }]
schedules = [{ route = "outer", kind = "fixed", times = ["22:00"] }]
"""

CSV = """wand,time,uid
wand-1,2026-11-25 22:01:10,7E11AA01
wand-1,2026-11-25 22:02:00,04A1B2C3D4E501
wand-1,2026-11-25 22:09:00,04-A1-B2-C3-D4-E5-02
wand-1,2026-11-25 22:10:00,ZZZZ
wand-1,2026-13-25 22:11:00,04A1B2C3D4E503
# the wand's battery warning
wand-1,2026-11-25 22:20:00,04A1B2C3D4E503
wand-1,2026-11-27 22:20:00,04A1B2C3D4E503
,2026-11-25 22:21:00,04A1B2C3D4E503
wand-1,2026-11-25 22:22
"""


@pytest.fixture
def wand_engine(make_engine: Any) -> PatrolEngine:
    return make_engine(WAND_PATROL)


def _night_without_live_scans(engine: PatrolEngine, clock: ManualClock, until: dt.datetime) -> None:
    while clock.instant().wall.astimezone(SHANGHAI) < until:
        clock.advance(60)
        engine.tick()


def test_a_csv_upload_proves_a_round_the_timer_had_given_up_on(wand_engine: PatrolEngine, clock: ManualClock,
                                                                store: Store, tmp_path: Path) -> None:
    _night_without_live_scans(wand_engine, clock, at(25, 22, 40))
    (not_started,) = [k for k in alert_rows(store) if k.startswith("patrol.not_started")]
    clock.advance(hours=7, minutes=20)  # 06:00, the guard docks the wand
    path = tmp_path / "wand.csv"
    path.write_text(CSV)

    result = wand_engine.import_file(path)
    assert (result.format, result.rows, result.accepted, result.duplicates) == ("csv", 9, 4, 0)
    assert [line for line, _ in result.problems] == [5, 6, 9, 10, 11]
    messages = dict(result.problems)
    assert "ZZZZ" in messages[5] and "not a card UID" in messages[5]
    assert "2026-13-25" in messages[6]
    assert "future" in messages[9]
    assert "wand is missing" in messages[10]
    assert "expected 3 columns" in messages[11]
    assert result.statuses == {"guard": 1, "on_time": 3}

    scans = data_of(store, "patrol.scan")
    assert [s["status"] for s in scans] == ["guard", "on_time", "on_time", "on_time"]
    assert scans[1]["scanned_ts"] == "2026-11-25T14:02:00.000Z"  # the wand's own time ...
    assert scans[1]["received_ts"] == "2026-11-25T22:00:00.000Z"  # ... kept beside the upload's (06:00 local)
    assert {s["source"] for s in scans} == {"wand"} and {s["device_id"] for s in scans} == {"wand-1"}
    # the round the timer reported as not started is revised: completed, and its alert cleared
    rounds = data_of(store, "patrol.round")
    assert [(r["outcome"], r["revision"]) for r in rounds] == [("not_started", 1), ("completed", 2)]
    assert rounds[0]["round_id"] == rounds[1]["round_id"]
    assert alert_rows(store)[not_started]["state"] == "cleared"
    (imported,) = data_of(store, "patrol.import")
    assert (imported["accepted"], imported["rejected"], imported["wands"]) == (4, 5, ["wand-1"])
    assert imported["problems"][0] == {"line": 5, "error": messages[5]}

    # the same file again adds nothing
    again = wand_engine.import_file(path)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 4, 5)
    assert len(data_of(store, "patrol.scan")) == 4 and len(data_of(store, "patrol.round")) == 2
    assert store.scalar("SELECT count(*) FROM patrol_scans") == 4
    assert len(data_of(store, "patrol.import")) == 2


def test_an_upload_showing_a_skipped_point_raises_the_missed_alert(wand_engine: PatrolEngine, clock: ManualClock,
                                                                   store: Store) -> None:
    clock.advance(hours=3)  # 00:00, no schedule open: the wand round is ad hoc
    text = json.dumps([
        {"wand": "wand-2", "time": "2026-11-25T23:00:00+08:00", "uid": "7E11AA01"},
        {"wand": "wand-2", "time": "2026-11-25T23:01:00+08:00", "uid": "04A1B2C3D4E501"},
        {"wand": "wand-2", "time": "2026-11-25T23:25:00+08:00", "uid": "04A1B2C3D4E503"},
    ], indent=1)
    result = wand_engine.import_text(text, "wand-2.json")
    assert (result.format, result.accepted, result.problems) == ("json", 3, [])
    statuses = [s["status"] for s in data_of(store, "patrol.scan")]
    # stairs due 23:16 (+5 grace): missed before the roof tap at 23:25, so the roof is in order (due 23:31)
    assert statuses == ["guard", "on_time", "on_time"]
    (missed,) = [k for k in alert_rows(store) if k.startswith("patrol.missed")]
    assert missed.endswith(":cp-stairs")
    (r,) = data_of(store, "patrol.round")
    assert (r["outcome"], r["missed_checkpoints"], r["scheduled"]) == ("abandoned", ["cp-stairs"], False)


def test_json_rows_are_reported_with_the_line_they_start_on(wand_engine: PatrolEngine, clock: ManualClock) -> None:
    text = """[
  {"wand": "wand-1", "time": "2026-11-25 20:30:00", "uid": "7E11AA01"},
  {"wand": "wand-1",
   "time": "yesterday", "uid": "04A1B2C3D4E501"},
  "not an object",
  {"wand": "Wand 1", "time": 1795000000, "uid": "04A1B2C3D4E501"},
  {"wand": "wand-1", "time": "2026-11-25 20:31:00", "uid": "04A1B2C3D4E501"}
  {"wand": "wand-1", "time": "2026-11-25 20:32:00", "uid": "04A1B2C3D4E502"}
]"""
    result = wand_engine.import_text(text, "upload.json")
    assert [line for line, _ in result.problems] == [3, 5, 6, 8]
    messages = dict(result.problems)
    assert "yesterday" in messages[3] and "must be an object" in messages[5]
    assert "'Wand 1'" in messages[6] and "rest of the file was not read" in messages[8]
    assert result.accepted == 2  # the rows before the broken one are kept


def test_json_lines_and_the_wand_option(wand_engine: PatrolEngine, clock: ManualClock, tmp_path: Path) -> None:
    path = tmp_path / "wand.jsonl"
    path.write_text('{"time": "2026-11-25 20:30:00", "uid": "7E11AA01"}\n\n'
                    '{"time": "2026-11-25 20:31:00", "uid": "04A1B2C3D4E501"\n'
                    '{"time": "2026-11-25 20:32:00", "uid": "04A1B2C3D4E501", "battery": 80}\n')
    result = wand_engine.import_file(path, wand_id="wand-9")
    assert result.format == "jsonl" and result.accepted == 2
    assert [line for line, _ in result.problems] == [3] and "not valid JSON" in result.problems[0][1]
    assert result.statuses == {"guard": 1, "on_time": 1}


def test_unreadable_uploads_are_refused_whole(wand_engine: PatrolEngine, tmp_path: Path) -> None:
    with pytest.raises(WandFileError, match="header row"):
        wand_engine.import_text("when,card\n1,2\n", "x.csv", fmt="csv")
    with pytest.raises(WandFileError, match="empty"):
        wand_engine.import_text("\n# nothing\n", "x.csv", fmt="csv")
    with pytest.raises(WandFileError, match="cannot read"):
        wand_engine.import_file(tmp_path / "missing.csv")
    (tmp_path / "latin1.csv").write_bytes(b"wand,time,uid\nw\xe9,1,2\n")
    with pytest.raises(WandFileError, match="line 2: the file is not UTF-8"):
        wand_engine.import_file(tmp_path / "latin1.csv")


def test_lobby_patrol_import_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lobby.cli import main

    config = tmp_path / "lobby.toml"
    config.write_text(config_text(tmp_path / "state", WAND_PATROL))
    now = dt.datetime.now(SHANGHAI).replace(microsecond=0)
    rows = [f"wand-1,{(now - dt.timedelta(minutes=m)).isoformat()},{uid}"
            for m, uid in ((30, "7E11AA01"), (29, "04A1B2C3D4E501"), (28, "0BADCAFE"))]
    upload = tmp_path / "upload.csv"
    upload.write_text("wand,time,uid\n" + "\n".join(rows) + "\nwand-1,not a time,04A1B2C3D4E502\n")

    assert main(["patrol", "--config", str(config), "import", str(upload)]) == 1
    out, err = capsys.readouterr()
    assert "4 rows, 3 imported, 0 already imported, 1 rejected" in out
    assert f"{upload}:5: time 'not a time'" in err
    assert main(["patrol", "--config", str(config), "import", str(upload), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert (result["accepted"], result["duplicates"]) == (0, 3)
    assert main(["patrol", "--config", str(config), "import", str(tmp_path / "nope.csv")]) == 2
