"""LibnfcReader: the real pynfc/libnfc code path against the PN532 simulator."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
from nfc_helpers import EventRecorder, HealthRecorder, SimProcess, wait_until

from drivers.nfc.libnfc_reader import LibnfcReader
from drivers.nfc.sim.pn532 import PN532Simulator

CLASSIC_UID = "04A2243B"
NTAG_UID = "04A2243B5C6D80"


@pytest.fixture
def make_reader() -> Iterator:
    readers: list[LibnfcReader] = []

    def make(link: str | Path, events: EventRecorder, health: HealthRecorder | None = None,
             **options: object) -> LibnfcReader:
        reader = LibnfcReader("lobby", f"pn532_uart:{link}", **options)
        if health is not None:
            reader.subscribe_health(health)
        reader.start(events)
        readers.append(reader)
        return reader

    yield make
    for reader in readers:
        reader.stop()


def wait_polling(sim: PN532Simulator) -> None:
    """Wait until the reader has a poll running on the simulator."""
    wait_until(lambda: sim.status()["polling"])


@pytest.mark.parametrize("uid, sim_type, tag_type", [
    (CLASSIC_UID, "classic_1k", "classic_1k"),
    (NTAG_UID, "ntag215", "ntag"),
])
def test_one_tap_per_presentation(sim: PN532Simulator, make_reader, events: EventRecorder,
                                  uid: str, sim_type: str, tag_type: str) -> None:
    make_reader(sim.link, events, retap_window_s=0.5)
    wait_polling(sim)
    sim.present(uid, sim_type)
    tap = events.wait_kinds("tap")[0]
    assert (tap.uid, tap.tag_type, tap.reader_id) == (uid, tag_type, "lobby")

    # Held in the field: the reader keeps pinging it and reports nothing more.
    frames = sim.status()["frames"]
    wait_until(lambda: sim.status()["frames"] >= frames + 10)
    assert events.snapshot() == [tap]

    sim.remove()
    removed = events.wait_kinds("tap", "removed")[1]
    assert (removed.uid, removed.tag_type) == (uid, tag_type)
    assert removed.at_mono >= tap.at_mono


def test_other_tag_types(sim: PN532Simulator, make_reader, events: EventRecorder) -> None:
    make_reader(sim.link, events, retap_window_s=0.2)
    seen = []
    for uid, sim_type in [("11223344", "classic_4k"), ("04112233445566", "desfire"),
                          ("04AABBCCDDEEFF", "ultralight")]:
        wait_polling(sim)
        sim.present(uid, sim_type)
        seen.append(events.wait_for(lambda items, uid=uid: any(e.uid == uid for e in items))[-1])
        sim.remove()
        events.wait_for(lambda items: items[-1].kind == "removed")
    assert [(e.uid, e.tag_type) for e in seen] == [
        ("11223344", "classic_4k"), ("04112233445566", "desfire"), ("04AABBCCDDEEFF", "ultralight")]


def test_retap_window_is_honoured(sim: PN532Simulator, make_reader, events: EventRecorder) -> None:
    make_reader(sim.link, events)  # the default 1.5 s window
    wait_polling(sim)
    sim.present(CLASSIC_UID)
    events.wait_kinds("tap")

    # Lifted and put back at once: the reader sees it go (it polls again) and come back.
    sim.remove()
    wait_polling(sim)
    sim.present(CLASSIC_UID)
    frames = sim.status()["frames"]
    wait_until(lambda: sim.status()["frames"] >= frames + 10)
    assert [e.kind for e in events.snapshot()] == ["tap"]

    # Away for longer than the window: the presentation ends, the next one is a tap.
    sim.remove()
    events.wait_kinds("tap", "removed")
    wait_polling(sim)
    sim.present(CLASSIC_UID)
    assert [e.kind for e in events.wait_kinds("tap", "removed", "tap")] == ["tap", "removed", "tap"]


def test_simulator_killed_and_restarted(sim_process: SimProcess, make_reader, events: EventRecorder,
                                        health: HealthRecorder) -> None:
    reader = make_reader(sim_process.link, events, health, retap_window_s=0.3,
                         backoff_first_s=0.1, backoff_cap_s=0.5)
    health.wait_state("ok")
    client = sim_process.client()
    client.present(CLASSIC_UID)
    events.wait_kinds("tap")

    changes = len(health.snapshot())
    sim_process.kill()
    lost = health.wait_state("lost", after=changes)
    link = sim_process.link
    assert lost.reason in {f"port {link} vanished", f"port {link} not found", "reader disconnected (I/O error)"}
    assert reader.running

    changes = len(health.snapshot())
    sim_process.start()
    health.wait_state("ok", after=changes)
    sim_process.client().present("04A2243C")
    taps = events.wait_for(lambda items: [e.uid for e in items if e.kind == "tap"][-1:] == ["04A2243C"])
    assert [e.kind for e in taps] == ["tap", "removed", "tap"]


def test_stop_returns_promptly_during_a_poll(sim: PN532Simulator, make_reader, events: EventRecorder) -> None:
    reader = make_reader(sim.link, events, poll_period=20)  # one InAutoPoll would take 6 s
    wait_polling(sim)
    reader.stop()
    assert not reader.running
    wait_until(lambda: not sim.status()["polling"])  # libnfc's ACK aborted the chip's poll


def test_stop_while_a_tag_is_held_closes_the_presentation(sim: PN532Simulator, make_reader,
                                                          events: EventRecorder) -> None:
    reader = make_reader(sim.link, events)
    wait_polling(sim)
    sim.present(CLASSIC_UID)
    events.wait_kinds("tap")
    reader.stop()
    assert not reader.running
    assert [e.kind for e in events.snapshot()] == ["tap", "removed"]


def test_missing_port_is_lost_then_found(tmp_path: Path, make_reader, events: EventRecorder,
                                         health: HealthRecorder) -> None:
    link = tmp_path / "later"
    make_reader(link, events, health, backoff_first_s=0.1, backoff_cap_s=0.3)
    lost = health.wait_state("lost")
    assert lost.reason == f"port {link} not found"
    simulator = PN532Simulator(link).start()
    try:
        health.wait_state("ok")
        simulator.present(CLASSIC_UID)
        assert events.wait_kinds("tap")[0].uid == CLASSIC_UID
    finally:
        simulator.stop()


def test_hung_reader_is_detected_and_recovers(sim_process: SimProcess, make_reader, events: EventRecorder,
                                              health: HealthRecorder) -> None:
    assert sim_process.proc is not None
    make_reader(sim_process.link, events, health, call_limit_s=1.0, backoff_first_s=0.1,
                backoff_cap_s=0.5)
    health.wait_state("ok")
    changes = len(health.snapshot())
    os.kill(sim_process.proc.pid, signal.SIGSTOP)  # the chip stops answering mid-poll
    try:
        lost = health.wait_state("lost", after=changes)
    finally:
        os.kill(sim_process.proc.pid, signal.SIGCONT)
    assert "answering" in lost.reason
    health.wait_state("ok", after=changes)
    sim_process.client().present(CLASSIC_UID)
    assert events.wait_kinds("tap")[0].uid == CLASSIC_UID


def test_usb_connstring_without_a_device_is_lost_not_fatal(events: EventRecorder,
                                                           health: HealthRecorder) -> None:
    reader = LibnfcReader("usb", "acr122_usb")
    reader.subscribe_health(health)
    reader.start(events)
    try:
        assert health.wait_state("lost").reason == "reader acr122_usb not found"
        assert reader.running
    finally:
        reader.stop()
    assert not reader.running


@pytest.mark.skipif(shutil.which("nfc-list") is None, reason="libnfc-bin not installed")
def test_nfc_list_sees_the_simulated_tag(sim: PN532Simulator) -> None:
    sim.present(NTAG_UID, "ntag215")
    result = subprocess.run(["nfc-list", "-t", "1"], capture_output=True, text=True, timeout=30,
                            env={**os.environ, "LIBNFC_DEFAULT_DEVICE": f"pn532_uart:{sim.link}"})
    assert "04  a2  24  3b  5c  6d  80" in result.stdout
    assert "SAK (SEL_RES): 00" in result.stdout
