"""Starting simulated meter lines as a child process of the host (the gateway's ``--simulate``).

    lines = SimulatedMeterLines(sim_dir(state_dir), bus_specs)
    links = lines.start()        # {"rs485-1": <state_dir>/sim/rs485-1, ...}: the real bus drivers open these
    ...                          # faults and values through <state_dir>/sim/meters.sock
    lines.stop()

Why a child process and not threads of the gateway: the simulated meters answer
frame by frame on ptys and would wait for the gateway's GIL (see
drivers/nfc/sim/launch.py for what that did to the card readers), and they are
not part of what a real installation runs: inside the gateway, a hundred simulated
meters (30 threads, pymodbus's simulator) counted as the gateway's memory.
The child dies with the host (PR_SET_PDEATHSIG, set by the child), so start it
from a thread that lives as long as the simulation (the main thread).
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from drivers.meters.sim.specs import SimBusSpec
from drivers.sim.child import end_child
from drivers.sim.paths import bus_link, meters_socket

log = logging.getLogger(__name__)

_ROOT = Path(__file__).resolve().parents[3]  # the folder holding `drivers`, for the child's PYTHONPATH
HOST_MODULE = "drivers.meters.sim.host"


class SimulatedMeterLines:
    """One child process simulating every given line, with its links and control socket in `folder`."""

    def __init__(self, folder: str | os.PathLike[str], buses: Sequence[SimBusSpec], *, timeout_s: float = 20.0,
                 drift: bool = True) -> None:
        self.folder = Path(folder)
        self.buses = list(buses)
        self.timeout_s = timeout_s
        self.drift = drift
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> dict[str, Path]:
        """Start the child; returns bus id -> pty link. Raises RuntimeError if it does not come up."""
        self.folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")]))}
        level = logging.getLevelName(logging.getLogger("drivers.meters.sim").getEffectiveLevel())
        argv = [sys.executable, "-m", HOST_MODULE, "--folder", str(self.folder), "--parent", str(os.getpid()),
                "--log-level", level if isinstance(logging.getLevelName(level), int) else "WARNING"]
        if not self.drift:
            argv.append("--no-drift")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(pickle.dumps(self.buses, protocol=pickle.HIGHEST_PROTOCOL))
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout_s)
        if not ready or b"ready" not in self.proc.stdout.readline():
            self.stop()
            raise RuntimeError("the simulated meter lines did not start")
        socket = meters_socket(self.folder)
        deadline = time.monotonic() + self.timeout_s
        while not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return {bus.bus_id: bus_link(self.folder, bus.bus_id) for bus in self.buses}

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        end_child(proc, timeout_s=5.0)
