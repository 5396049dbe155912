"""`lobby kiosk --simulate`: the kiosk's card readers on PN532 simulators (no Kivy here).

Each kiosk reader ([[readers]] with host = "kiosk") gets a PN532 simulator as a
child process on a pseudo-terminal: link `<state_dir>/sim/<reader-id>`, JSON-lines
control socket `<state_dir>/sim/<reader-id>.sock`. The kiosk's real LibnfcReader
opens the link (`pn532_uart:<link>`), so the whole driver path runs. The on-screen
simulator panel, the tests and the benchmark present cards through the control
socket. The children die with the kiosk (PR_SET_PDEATHSIG) and are stopped on exit.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lobby.config import Config

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]


def sim_dir(cfg: Config) -> Path:
    return Path(cfg.state_dir) / "sim"


def reader_link(cfg: Config, reader_id: str) -> Path:
    return sim_dir(cfg) / reader_id


def reader_socket(cfg: Config, reader_id: str) -> Path:
    return sim_dir(cfg) / f"{reader_id}.sock"


def gpio_socket(cfg: Config) -> Path:
    return sim_dir(cfg) / "gpio.sock"


def _die_with_parent() -> None:  # runs in the child before exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class SimReaders:
    """PN532 simulator processes for the kiosk's readers."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.procs: dict[str, subprocess.Popen[str]] = {}

    def reader_ids(self) -> list[str]:
        return [r.id for r in self.cfg.readers if r.host == "kiosk"]

    def start(self, timeout_s: float = 10.0) -> dict[str, str]:
        """Start one simulator per kiosk reader; returns reader id -> libnfc connstring."""
        out: dict[str, str] = {}
        sim_dir(self.cfg).mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        for reader_id in self.reader_ids():
            link, sock = reader_link(self.cfg, reader_id), reader_socket(self.cfg, reader_id)
            proc = subprocess.Popen(
                [sys.executable, "-m", "drivers.nfc.sim.pn532", "--link", str(link), "--control", str(sock)],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True, env=env,
                preexec_fn=_die_with_parent)
            self.procs[reader_id] = proc
            deadline = time.monotonic() + timeout_s
            assert proc.stdout is not None
            line = proc.stdout.readline()  # "pn532-sim ready link=... control=..."
            while not sock.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            if "ready" not in line or not sock.exists():
                log.error("PN532 simulator for %s did not start", reader_id)
                continue
            out[reader_id] = f"pn532_uart:{link}"
            log.info("reader %s: simulated PN532 on %s (control %s)", reader_id, link, sock)
        return out

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
