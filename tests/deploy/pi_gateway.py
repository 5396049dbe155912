"""What systemd does for lobby-gateway on a Pi, for a throwaway --root: start, stop, restart.

    python tests/deploy/pi_gateway.py start|stop|restart ROOT [--delay S]

Runs ROOT/opt/lobby/bin/lobby (the `current` release, resolved when it starts, as the unit's
ExecStart is) `--log-level INFO gateway --simulate --config ROOT/etc/lobby/lobby.toml` in a
session of its own; its pid in ROOT/run/lobby-gateway.pid, its output appended to
ROOT/var/log/lobby-gateway.log. `stop` is SIGTERM (a clean stop), SIGKILL after 20 s.

Used as lobby-release's --root test hook: LOBBY_RELEASE_RESTART_CMD="python pi_gateway.py restart
ROOT" (systemd/release.sh). `--delay S` waits S seconds between the stop and the start (a slow
start, for a gate that must wait). Needs nothing from the project: it runs with any python.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def pid_file(root: Path) -> Path:
    return root / "run/lobby-gateway.pid"


def log_file(root: Path) -> Path:
    return root / "var/log/lobby-gateway.log"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (its parent, our caller, exited) has stopped
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def running(root: Path) -> int | None:
    try:
        pid = int(pid_file(root).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def start(root: Path) -> int:
    if running(root):
        raise RuntimeError(f"the gateway of {root} is already running")
    log = log_file(root)
    log.parent.mkdir(parents=True, exist_ok=True)
    pid_file(root).parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    with open(log, "ab") as out:
        out.write(f"--- start {time.strftime('%H:%M:%S')} on {os.readlink(root / 'opt/lobby/current')}\n".encode())
        out.flush()
        proc = subprocess.Popen([str(root / "opt/lobby/bin/lobby"), "--log-level", "INFO", "gateway", "--simulate",
                                 "--config", str(root / "etc/lobby/lobby.toml")],
                                cwd=root, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                                start_new_session=True)
    pid_file(root).write_text(f"{proc.pid}\n")
    return proc.pid


def stop(root: Path, timeout: float = 20.0) -> None:
    pid = running(root)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)
    pid_file(root).unlink(missing_ok=True)


def restart(root: Path, delay: float = 0.0) -> int:
    stop(root)
    if delay:
        time.sleep(delay)
    return start(root)


def main(argv: list[str]) -> int:
    action, root = argv[0], Path(argv[1])
    delay = float(argv[argv.index("--delay") + 1]) if "--delay" in argv else 0.0
    if action == "start":
        start(root)
    elif action == "stop":
        stop(root)
    elif action == "restart":
        restart(root, delay)
    else:
        print(__doc__, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
