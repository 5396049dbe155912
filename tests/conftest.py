"""Shared fixtures: a real mosquitto per test, configs built for it, the store."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lobby.config import Config, parse_config
from tests.helpers.broker import Broker
from tests.helpers.site_config import site_toml

os.environ.setdefault("LOBBY_CLOCK_SYNCED", "1")  # the sandbox clock is never NTP-synced



@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


ConfigFactory = Callable[..., Config]


@pytest.fixture
def make_config(tmp_path: Path) -> ConfigFactory:
    def factory(port: int, extra: str = "", mqtt_extra: str = "", discovery: bool = False,
                state_dir: Path | None = None) -> Config:
        text = site_toml(state_dir=state_dir or (tmp_path / "state"), port=port, extra=extra,
                                  mqtt_extra=mqtt_extra, discovery="true" if discovery else "false")
        return parse_config(text, "test.toml")
    return factory


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    def factory(port: int, extra: str = "", mqtt_extra: str = "", discovery: bool = False,
                name: str = "lobby.toml", state_dir: Path | None = None) -> Path:
        path = tmp_path / name
        path.write_text(site_toml(state_dir=state_dir or (tmp_path / "state"), port=port, extra=extra,
                                           mqtt_extra=mqtt_extra, discovery="true" if discovery else "false"))
        return path
    return factory
