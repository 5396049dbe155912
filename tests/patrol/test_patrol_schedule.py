"""Schedules (fixed, every N hours, random) and the patrol keys of the configuration."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest

from lobby.config import ConfigError, load_config, parse_config
from lobby.config.model import PatrolConfig, ShiftsConfig
from lobby.patrol.schedule import SECRET_FILE, load_secret, next_handover, occurrences, random_times
from tests.patrol.patrol_helpers import PATROL, SHANGHAI, at, config_text

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 11, 25)


def _patrol(schedules: str) -> PatrolConfig:
    text = PATROL.partition("schedules = [")[0] + f"schedules = [{schedules}]\n"
    return parse_config(config_text(Path("/tmp/x"), text), "t.toml").patrol


def _local(patrol: PatrolConfig, secret: bytes = b"s" * 32, day: dt.date = DAY, site: str = "tower-a") -> list[str]:
    return [o.planned.astimezone(SHANGHAI).strftime("%d %H:%M") for o in occurrences(patrol, SHANGHAI, day, secret, site)]


def test_fixed_and_every_schedules() -> None:
    patrol = _patrol('{ route = "night", kind = "fixed", times = ["22:00", "02:00"] },'
                     '{ route = "night", kind = "every", every_h = 2, window_from = "22:00", window_to = "06:00" }')
    # 22:00 is in both: one round; the every window crosses midnight and its end is exclusive
    assert _local(patrol) == ["25 02:00", "25 22:00", "26 00:00", "26 02:00", "26 04:00"]
    keys = [o.key for o in occurrences(patrol, SHANGHAI, DAY, b"", "tower-a")]
    assert keys[1] == "night@2026-11-25T22:00" and len(set(keys)) == len(keys)


def test_random_rounds_are_reproducible_but_unpredictable_without_the_secret() -> None:
    patrol = _patrol('{ route = "night", kind = "random", window_from = "23:00", window_to = "05:00", count = 3 }')
    first = _local(patrol)
    assert first == _local(patrol)  # the kiosk, the gateway and the tests agree
    assert len(first) == 3
    times = [o.planned for o in occurrences(patrol, SHANGHAI, DAY, b"s" * 32, "tower-a")]
    slots = [(at(25, 23) + dt.timedelta(hours=2 * i), at(25, 23) + dt.timedelta(hours=2 * (i + 1))) for i in range(3)]
    assert all(lo <= t < hi for t, (lo, hi) in zip(times, slots))  # one in each third of the window
    others = {tuple(_local(patrol, secret=bytes([n]) * 32)) for n in range(8)}
    assert len(others) > 4  # another secret, other times
    days = {tuple(t[3:] for t in _local(patrol, day=DAY + dt.timedelta(days=n))) for n in range(8)}
    assert len(days) > 4  # a different night, different times
    assert _local(patrol, site="tower-b") != first


def test_random_times_cover_the_whole_window() -> None:
    sched = _patrol('{ route = "night", kind = "random", window_from = "23:00", window_to = "01:00", count = 1 }').schedules[0]
    seen = {random_times(bytes([n % 256, n // 256]) * 16, "s", sched, DAY, SHANGHAI)[0] for n in range(400)}
    assert min(seen) < at(25, 23, 10) and max(seen) > at(26, 0, 50)
    assert all(at(25, 23) <= t < at(26, 1) for t in seen)


def test_the_secret_is_made_once_and_kept_private(tmp_path: Path) -> None:
    secret = load_secret(tmp_path / "state")
    assert len(secret) == 32 and load_secret(tmp_path / "state") == secret
    mode = stat.S_IMODE(os.stat(tmp_path / "state" / SECRET_FILE).st_mode)
    assert mode == 0o600
    assert not [p for p in (tmp_path / "state").iterdir() if p.name.endswith(".tmp")]


def test_alerts_clear_at_the_next_handover() -> None:
    shifts = ShiftsConfig()  # 06-13, 13-22, 22-06
    assert next_handover(shifts, SHANGHAI, at(25, 22, 31)) == at(26, 6)
    assert next_handover(shifts, SHANGHAI, at(26, 6)) == at(26, 13)
    assert next_handover(ShiftsConfig(shifts=[]), SHANGHAI, at(26, 6)) == at(26, 18)


def test_the_example_config_has_a_patrol_by_the_book() -> None:
    cfg = load_config(ROOT / "config" / "example.toml")
    patrol = cfg.patrol
    assert (patrol.grace_min, patrol.start_window_min, patrol.early_start_min) == (5, 30, 10)
    route = patrol.routes[0]
    assert route.ordered and route.window_min("cp-b1") == 15 and route.window_min("cp-roof") == 20
    assert {s.kind for s in patrol.schedules} == {"fixed", "random"}


BROKEN = [
    ("window names a foreign checkpoint",
     PATROL.replace("max_gap_min = 15 }", "max_gap_min = 15, windows_min = { cp-gym = 5 } }"),
     "patrol.routes[0]: windows_min names 'cp-gym', which is not one of this route's checkpoints"),
    ("min gap not below the window", PATROL.replace("max_gap_min = 15 }", "max_gap_min = 15, min_gap_min = 20 }"),
     "patrol.routes[0]: max_gap_min must be longer than min_gap_min"),
    ("guard card twice", PATROL.replace('card_uid = "7E11AA02"', 'card_uid = "7e:11:aa:01"'),
     "patrol.guards[1].card_uid: card already belongs to patrol.guards[0]"),
    ("two checkpoints on one reader", PATROL.replace('tag_uid = "04A1B2C3D4E502"', 'reader = "nfc-b1"'),
     "patrol.checkpoints[2].reader: reader 'nfc-b1' already stands at checkpoint 'cp-b1'"),
    ("reader and checkpoint disagree", PATROL.replace('checkpoint = "cp-lobby"', 'checkpoint = "cp-roof"'),
     "readers[0].checkpoint: checkpoint 'cp-lobby' names this reader; the two must agree"),
    ("every without a window", PATROL.replace('kind = "fixed", times = ["22:00", "02:00"]', 'kind = "every", every_h = 2'),
     "patrol.schedules[0]: an every schedule needs window_from and window_to"),
    ("empty window", PATROL.replace('window_to = "01:30"', 'window_to = "23:00"'),
     "patrol.schedules[1]: window_from and window_to must differ"),
    ("times on a random schedule", PATROL.replace('kind = "random",', 'kind = "random", times = ["23:00"],'),
     "patrol.schedules[1]: times belongs to a fixed schedule"),
    ("repeated fixed time", PATROL.replace('["22:00", "02:00"]', '["22:00", "22:00"]'),
     "patrol.schedules[0]: times of a fixed schedule must not repeat"),
    ("negative early start", PATROL.replace("early_start_min = 10", "early_start_min = -1"),
     "patrol.early_start_min: must be at least 0 (got -1)"),
    ("unknown patrol key", PATROL.replace("grace_min = 5", "grace_min = 5\ngrace_minutes = 5"),
     "patrol.grace_minutes: unknown key"),
]


@pytest.mark.parametrize(("name", "patrol", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_patrol_config_gets_a_precise_message(name: str, patrol: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(config_text(Path("/tmp/x"), patrol), "t.toml")
    lines = info.value.lines()
    assert any(expected in line for line in lines), lines
