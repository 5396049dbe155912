"""Fixtures for the NFC reader tests: simulators in-process and as a process."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from nfc_helpers import EventRecorder, HealthRecorder, SimProcess

from drivers.nfc.sim.pn532 import PN532Simulator


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[PN532Simulator]:
    simulator = PN532Simulator(tmp_path / "pn532").start()
    yield simulator
    simulator.stop()


@pytest.fixture
def sim_process(tmp_path: Path) -> Iterator[SimProcess]:
    process = SimProcess(tmp_path).start()
    yield process
    process.stop()


@pytest.fixture
def events() -> EventRecorder:
    return EventRecorder()


@pytest.fixture
def health() -> HealthRecorder:
    return HealthRecorder()
