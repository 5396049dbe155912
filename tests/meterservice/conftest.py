"""Fixtures: the configured lines on simulators, a store, a hand-driven clock, the meter service.

Every test's outbox is checked at teardown: each event must validate against its JSON Schema.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from meterservice_helpers import ManualClock, invalid_events, make_config

from mqtt_bridge.alerts import AlertEngine
from lobby.config import Config
from lobby.meters import MeterService, MeterSimulation, start_simulation
from mqtt_bridge.store import Store


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(dt.datetime(2026, 11, 25, 10, 0))  # a Wednesday in winter, Shanghai time


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "state" / "lobby.db")
    yield s
    problems = invalid_events(s)
    s.close()
    assert problems == [], problems[:5]


@pytest.fixture
def alerts(store: Store) -> AlertEngine:
    return AlertEngine(store)


@pytest.fixture
def simulated(tmp_path: Path) -> Iterator[Callable[..., tuple[Config, MeterSimulation]]]:
    sims: list[MeterSimulation] = []

    def make(**kwargs: Any) -> tuple[Config, MeterSimulation]:
        cfg = make_config(tmp_path / "state", **kwargs)
        cfg, sim = start_simulation(cfg, seed=7, drift=False)
        sims.append(sim)
        return cfg, sim

    yield make
    for sim in sims:
        sim.stop()


@pytest.fixture
def service(store: Store, alerts: AlertEngine, clock: ManualClock) -> Iterator[Callable[..., MeterService]]:
    services: list[MeterService] = []

    def make(cfg: Config, **kwargs: Any) -> MeterService:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("run_daily", False)
        svc = MeterService(cfg, store, alerts, **kwargs)
        services.append(svc)
        return svc

    yield make
    for svc in services:
        svc.stop(timeout=5)
