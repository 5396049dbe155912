"""The README's demo: starts, shows that it works, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers.broker import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_and_exits_zero_on_ctrl_c_within_5_s(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DISPLAY", None)  # headless, as on CI
    proc = subprocess.Popen([sys.executable, "-m", "lobby.cli", "demo", "--state-dir", str(tmp_path / "demo"),
                             "--port", str(free_port())], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    lines: list[str] = []
    deadline = time.monotonic() + 90
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if "cmd/directory.update/result" in line:
            break
    output = "\n".join(lines)
    assert "local broker (mosquitto)" in output
    assert "[central ] status" in output and "online" in output
    assert "cmd/directory.update/result" in output and " ok" in output
    os.kill(proc.pid, signal.SIGINT)
    started = time.monotonic()
    rest, _ = proc.communicate(timeout=10)
    stopped_in = time.monotonic() - started
    assert proc.returncode == 0, rest
    assert stopped_in < 5.0
    assert "[demo    ] stopped" in rest
    assert "Traceback" not in output + rest
