"""Fixtures for the patrol engine: a store, the night config, a hand-driven clock, the engine.

Every test's outbox is checked at teardown: each event must validate against its JSON Schema.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mqtt_bridge.alerts import AlertEngine
from lobby.config import Config
from lobby.patrol import ManualClock, PatrolEngine
from mqtt_bridge.store import Store
from tests.patrol.patrol_helpers import CARD_KEY, PATROL, SECRET, SHANGHAI, invalid_events, make_config


@pytest.fixture
def clock() -> ManualClock:
    # Wednesday 25 November 2026, 21:00 in Shanghai
    return ManualClock(dt.datetime(2026, 11, 25, 21, 0, tzinfo=SHANGHAI))


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    return make_config(tmp_path / "state")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "lobby.db")
    yield s
    problems = invalid_events(s)
    s.close()
    assert problems == [], problems[:5]


@pytest.fixture
def make_engine(store: Store, clock: ManualClock, tmp_path: Path) -> Callable[..., PatrolEngine]:
    def factory(patrol: str = PATROL, on_store: Store | None = None) -> PatrolEngine:
        target = on_store or store
        return PatrolEngine(make_config(tmp_path / "state", patrol), target, AlertEngine(target), clock,
                            card_key=CARD_KEY, secret=SECRET)
    return factory


@pytest.fixture
def engine(make_engine: Callable[..., PatrolEngine]) -> PatrolEngine:
    return make_engine()
