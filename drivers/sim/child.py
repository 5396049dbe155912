"""What every simulator child process does: die with its host, and stop on a signal.

Simulators that run beside a host (the gateway or the kiosk under ``--simulate``) are
child processes, so that they neither wait for the host's GIL nor count in its memory
(drivers/nfc/sim/launch.py, drivers/meters/sim/launch.py). These helpers are the
child's side of that arrangement, and `end_child` the host's way of ending one.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from typing import Any

STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


def block_stop_signals() -> None:
    """Keep SIGTERM/SIGINT pending for :func:`wait_for_stop` instead of running a handler.

    A handler that sets an Event takes the Event's lock, and a second signal arriving
    meanwhile runs the handler again, nested, on the same lock, for ever.
    PR_SET_PDEATHSIG sends one SIGTERM for each thread of a dying parent, so that is
    what happened when a host with many threads was killed. Call it before any
    thread starts: threads inherit the mask.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def wait_for_stop() -> None:
    signal.sigwait(STOP_SIGNALS)


def die_with_parent(parent: int) -> bool:
    """SIGTERM this process when its parent ends, even by SIGKILL (PR_SET_PDEATHSIG); False if it has already.

    Set here, after exec, rather than in a ``preexec_fn`` of the parent: that runs Python
    between fork and exec, which is unsafe in a parent with threads (the gateway, the kiosk).
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    return os.getppid() == parent  # the parent may have died before prctl


def end_child(proc: "subprocess.Popen[Any]", timeout_s: float = 3.0) -> None:
    """SIGTERM a simulator child, SIGKILL it if it has not ended within `timeout_s`, reap it."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
