"""Starting PN532 simulators as child processes: links and sockets in the simulator folder, a kill and a
restart, and children that end with the process that started them, even when it is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from nfc_helpers import wait_until

from drivers.nfc.sim.launch import SimulatedReaders
from drivers.nfc.sim.pn532_control import ControlClient
from drivers.sim.paths import reader_link, reader_socket

REPO = Path(__file__).resolve().parents[3]

# The host has many threads, as the gateway has: PR_SET_PDEATHSIG then sends one SIGTERM per thread
# that dies, and a simulator that caught SIGTERM with a handler setting an Event hung on the second.
HOST = """
import sys, threading, time
from drivers.nfc.sim.launch import SimulatedReaders
for _ in range(40):
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
readers = SimulatedReaders(sys.argv[1], ["nfc-a", "nfc-b"])
assert len(readers.start()) == 2
print(" ".join(str(p.pid) for p in readers.procs.values()), flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_one_simulator_per_reader_in_the_folder(tmp_path: Path) -> None:
    readers = SimulatedReaders(tmp_path / "sim", ["nfc-a", "nfc-b"])
    try:
        started = readers.start()
        assert started == {r: f"pn532_uart:{reader_link(tmp_path / 'sim', r)}" for r in ("nfc-a", "nfc-b")}
        assert reader_link(tmp_path / "sim", "nfc-a").is_symlink()
        with ControlClient(reader_socket(tmp_path / "sim", "nfc-b")) as client:
            client.present("04A2243B5C6D80", "ntag215")
            assert client.status()["tag"]["uid"] == "04A2243B5C6D80"

        readers.kill("nfc-a")
        assert set(readers.connstrings()) == {"nfc-b"}
        assert set(readers.start()) == {"nfc-a", "nfc-b"}  # only the killed one is started again
        with ControlClient(reader_socket(tmp_path / "sim", "nfc-a")) as client:
            assert client.status()["tag"] is None
    finally:
        readers.stop()
    assert readers.procs == {}
    assert not reader_socket(tmp_path / "sim", "nfc-a").exists()


def test_the_simulators_end_with_their_host_even_when_it_is_killed(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for attempt in range(3):
        folder = tmp_path / str(attempt)
        host = subprocess.Popen([sys.executable, "-c", HOST, str(folder)], stdout=subprocess.PIPE, text=True,
                                env=env)
        children: list[int] = []
        try:
            assert host.stdout is not None
            children = [int(pid) for pid in host.stdout.readline().split()]
            assert len(children) == 2 and all(_alive(pid) for pid in children)
        finally:
            host.send_signal(signal.SIGKILL)
            host.wait()
            try:
                wait_until(lambda: not any(_alive(pid) for pid in children), timeout=10)
            finally:
                for pid in children:  # a hung survivor must not outlive the test
                    if _alive(pid):
                        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while reader_socket(folder, "nfc-a").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not reader_socket(folder, "nfc-a").exists()  # they stopped cleanly, not killed in turn
