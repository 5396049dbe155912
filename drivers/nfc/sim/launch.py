"""Starting PN532 simulators: one child process per card reader, in the simulator folder.

The one way simulated card readers are started: by the gateway and the kiosk under
``--simulate`` (and so by the demo), and by the tests that need a simulator they
can kill.

    readers = SimulatedReaders(sim_dir(state_dir), ["nfc-lobby"])
    connstrings = readers.start()   # {"nfc-lobby": "pn532_uart:<state_dir>/sim/nfc-lobby.tty"}
    ...                             # the real LibnfcReader opens the connstring
    readers.stop()

Each reader gets ``python -m drivers.nfc.sim.pn532`` on a pseudo-terminal linked at
``<folder>/<reader-id>.tty`` with its control socket at ``<folder>/<reader-id>.sock``
(:mod:`drivers.sim.paths`); the demo, the tests and the kiosk's simulator panel
present cards through the socket.

Why child processes, not threads of the host. The simulator answers libnfc frame
by frame, paced at the serial baud rate, and libnfc gives up on a reply that is
late. Inside the host it would need the host's GIL for every frame, and the hosts
hold it for long stretches: the kiosk runs Kivy in its process (building a screen,
or drawing with software OpenGL, holds the GIL in C code for hundreds of
milliseconds), the gateway runs its meter lines, store and MQTT bridge. Measured
with a host thread holding the GIL in 0.4 s calls and the reader in the host: with
the simulator in-process, present -> tap took 252 ms (median) and up to 8.1 s, the
reader was reported lost and saw taps of a card held still; with the simulator as
a child process, 4 ms, no stray event, health ok throughout. The kiosk already ran
its simulators as children; the gateway (in-process until now) does the same.

The children die with the host, even when it is SIGKILLed (``--parent``: the
simulator sets PR_SET_PDEATHSIG itself), and :meth:`SimulatedReaders.stop` ends
them. PR_SET_PDEATHSIG fires when the *thread* that started the child ends, so
call :meth:`~SimulatedReaders.start` from a thread that lives as long as the
simulators (the main thread, in the gateway and the kiosk). The children write
their log lines to the host's stderr, at the host's level for ``drivers.nfc.sim``.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from drivers.sim.child import end_child
from drivers.sim.paths import reader_link, reader_socket

log = logging.getLogger(__name__)

# the folder that holds the drivers package, for the children's PYTHONPATH (a checkout need not be installed)
_ROOT = Path(__file__).resolve().parents[3]
SIMULATOR_MODULE = "drivers.nfc.sim.pn532"


def connstring(link: str | os.PathLike[str]) -> str:
    """The libnfc connstring of a simulator's pty link."""
    return f"pn532_uart:{link}"


class SimulatedReaders:
    """PN532 simulator processes for a set of reader ids, in one folder."""

    def __init__(self, folder: str | os.PathLike[str], reader_ids: Iterable[str], *,
                 timeout_s: float = 10.0) -> None:
        self.folder = Path(folder)
        self.reader_ids = list(dict.fromkeys(reader_ids))
        self.timeout_s = timeout_s
        self.procs: dict[str, subprocess.Popen[str]] = {}

    def link(self, reader_id: str) -> Path:
        return reader_link(self.folder, reader_id)

    def socket(self, reader_id: str) -> Path:
        return reader_socket(self.folder, reader_id)

    def start(self) -> dict[str, str]:
        """Start a simulator for every reader that has none running; returns reader id -> libnfc
        connstring of every simulator that runs. One that does not start is logged and left out."""
        self.folder.mkdir(parents=True, exist_ok=True)
        starting = [r for r in self.reader_ids if r not in self.procs or self.procs[r].poll() is not None]
        for reader_id in starting:
            self._close(reader_id)
            self.procs[reader_id] = self._spawn(reader_id)
        deadline = time.monotonic() + self.timeout_s
        for reader_id in starting:
            if self._wait_ready(reader_id, deadline):
                log.info("reader %s: simulated PN532 on %s (control %s)", reader_id, self.link(reader_id),
                         self.socket(reader_id))
            else:
                log.error("PN532 simulator for %s did not start", reader_id)
                self._end(reader_id)
        return self.connstrings()

    def connstrings(self) -> dict[str, str]:
        return {r: connstring(self.link(r)) for r in self.reader_ids
                if r in self.procs and self.procs[r].poll() is None}

    def kill(self, reader_id: str) -> None:
        """SIGKILL one simulator, as a fault (the reader's adapter dies); :meth:`start` brings it back."""
        proc = self.procs[reader_id]
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for reader_id in list(self.procs):
            self._end(reader_id)

    def __enter__(self) -> "SimulatedReaders":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ the children

    def _spawn(self, reader_id: str) -> subprocess.Popen[str]:
        env = {**os.environ,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")]))}
        level = logging.getLevelName(logging.getLogger("drivers.nfc.sim").getEffectiveLevel())
        if not isinstance(logging.getLevelName(level), int):  # a level without a name
            level = "WARNING"
        argv = [sys.executable, "-m", SIMULATOR_MODULE, "--link", str(self.link(reader_id)),
                "--control", str(self.socket(reader_id)), "--parent", str(os.getpid()), "--log-level", level]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env)

    def _wait_ready(self, reader_id: str, deadline: float) -> bool:
        """The child's "pn532-sim ready ..." line, then its control socket."""
        proc, sock = self.procs[reader_id], self.socket(reader_id)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready or "ready" not in proc.stdout.readline():
            return False
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return sock.exists()

    def _end(self, reader_id: str) -> None:
        end_child(self.procs.pop(reader_id))

    def _close(self, reader_id: str) -> None:
        """Forget a simulator that has ended (killed, or crashed)."""
        if reader_id in self.procs:
            self._end(reader_id)
