"""Fixtures for the lobby services: a store, a config, a hand-driven clock, a simulated printer.

Every test's outbox is checked at teardown: each event must validate against its JSON Schema.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lobby.services import LobbyServices
from mqtt_bridge.clock import ManualClock
from lobby.config import Config, load_config, parse_config
from lobby.runtime import Runtime
from mqtt_bridge.timebase import utc_now
from tests.helpers.broker import Broker
from tests.helpers.central import Central
from mqtt_bridge.store import Store
from tests.services.services_helpers import CARD_KEY, SHANGHAI, base_config, invalid_events, seed_directory


@pytest.fixture
def clock() -> ManualClock:
    # Wednesday 25 November 2026, 10:00 in Shanghai
    return ManualClock(dt.datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI))


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., Config]:
    def factory(extra: str = "") -> Config:
        return parse_config(base_config(tmp_path / "state", extra=extra), "test.toml")
    return factory


@pytest.fixture
def cfg(make_cfg: Callable[..., Config]) -> Config:
    return make_cfg()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "lobby.db")
    yield s
    problems = invalid_events(s)
    s.close()
    assert problems == [], problems[:5]


@pytest.fixture
def make_services(store: Store, clock: ManualClock, make_cfg: Callable[..., Config]) -> Callable[..., LobbyServices]:
    def factory(extra: str = "", printer: Any = None) -> LobbyServices:
        services = LobbyServices(store, make_cfg(extra), card_key=CARD_KEY, clock=clock, printer=printer)
        seed_directory(store)
        return services
    return factory


@pytest.fixture
def services(make_services: Callable[..., LobbyServices]) -> LobbyServices:
    return make_services()


@pytest.fixture(scope="session")
def renderer():  # noqa: ANN201 - drivers.printer.Renderer
    from drivers.printer import Renderer

    return Renderer()


@pytest.fixture
def sim_printer(tmp_path: Path):  # noqa: ANN201
    from drivers.printer.sim import SimulatedPrinter

    return SimulatedPrinter(tmp_path / "printer.escpos")


@pytest.fixture
def badge_printer(sim_printer, renderer):  # noqa: ANN001, ANN201
    from drivers.printer import BadgePrinter

    with BadgePrinter(sim_printer, renderer=renderer, tz=SHANGHAI) as printer:
        yield printer


@pytest.fixture
def on_broker(broker: Broker, write_config) -> Iterator[tuple[Runtime, Central, LobbyServices, ManualClock]]:  # noqa: ANN001
    """A whole gateway runtime on a real mosquitto, central watching it, the lobby services on its store
    with a hand-driven clock; central must have seen no invalid message by the end."""
    path: Path = write_config(broker.port)
    rt = Runtime(load_config(path), path)
    central = Central(broker.port, rt.cfg.base_topic)
    rt.start()
    central.wait_for(lambda: f"{rt.cfg.base_topic}/status" in central.retained, what="gateway online")
    clock = ManualClock(utc_now())
    services = LobbyServices(rt.store, rt.cfg, card_key=rt.card_key, clock=clock, alerts=rt.alerts)
    yield rt, central, services, clock
    rt.stop()
    central.close()
    assert central.invalid == [], central.invalid
