"""Fixtures: a simulated line on a pty under tmp_path and the real bus driver on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from meters_testing import FAST_8E1

from drivers.meters.bus import MeterBus
from drivers.meters.devices import DeviceSpec
from drivers.meters.serial_settings import SerialSettings
from drivers.meters.sim import SimBus, SimMeter


@pytest.fixture
def link(tmp_path: Path) -> Path:
    return tmp_path / "ttyMETERS"


@pytest.fixture
def sim_line(link: Path) -> Iterator[Callable[..., SimBus]]:
    lines: list[SimBus] = []

    def make(devices: list[SimMeter], settings: SerialSettings = FAST_8E1) -> SimBus:
        line = SimBus(link, settings, devices, seed=1).start()
        lines.append(line)
        return line

    yield make
    for line in lines:
        line.stop()


@pytest.fixture
def meter_bus(link: Path) -> Iterator[Callable[..., MeterBus]]:
    buses: list[MeterBus] = []

    def make(devices: list[DeviceSpec], settings: SerialSettings = FAST_8E1, **kwargs: object) -> MeterBus:
        options: dict[str, object] = {"port_retry_initial": 0.05, "port_retry_max": 0.2,
                                      "device_retry_initial": 0.3, "device_retry_max": 1.0}
        options.update(kwargs)
        bus = MeterBus(str(link), settings, **options)  # type: ignore[arg-type]
        for device in devices:
            bus.add(device)
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        bus.close()
