"""The README's demo: starts, shows that it works, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import re
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


def _children(pid: int) -> list[str]:
    out = subprocess.run(["ps", "-ww", "-o", "args=", "--ppid", str(pid)], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()


def test_demo_without_a_display_shows_the_kiosk_as_a_picture(tmp_path: Path) -> None:
    """No DISPLAY: the demo starts a virtual screen, runs the kiosk on it, says in one line where its picture
    is, and the picture appears there (the kiosk's home screen, not an empty screen)."""
    from PIL import Image

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    proc = subprocess.Popen([sys.executable, "-m", "lobby.cli", "demo", "--state-dir", str(tmp_path / "demo"),
                             "--port", str(free_port()), "--no-scenario"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip())
            if "no display" in line or "stopped" in line:
                break
        said = [line for line in lines if "no display" in line]
        assert said, "\n".join(lines)
        assert "virtual screen" in said[0] and "open " in said[0], said[0]
        picture = Path(said[0].split("open ", 1)[1].split(" ", 1)[0])
        assert picture == tmp_path / "demo" / "screens" / "latest.png"
        assert any(" kiosk " in args and "--simulate" in args for args in _children(proc.pid)), _children(proc.pid)
        deadline = time.monotonic() + 90
        colours = 0
        while time.monotonic() < deadline and colours < 50:  # a drawn home screen, not a black one
            if picture.exists():
                try:
                    with Image.open(picture) as image:
                        colours = len(image.convert("RGB").getcolors(1 << 20) or [])
                except OSError:  # being replaced
                    pass
            time.sleep(0.5)
        assert colours >= 50, f"no kiosk picture at {picture} ({colours} colours)"
        assert any(" kiosk " in args for args in _children(proc.pid)), "the kiosk is not running"
    finally:
        os.kill(proc.pid, signal.SIGINT)
        rest, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, rest
    assert "Traceback" not in "\n".join(lines) + rest


_STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


def test_demo_console_is_quiet(tmp_path: Path) -> None:
    """~30 s of the demo (kiosk, gateway, scripted day): central's traffic and real problems only. No traceback,
    no line from the kivy or paho loggers, no warning twice; the scripted malformed command is announced."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    done = subprocess.run([sys.executable, "-m", "lobby.cli", "demo", "--state-dir", str(tmp_path / "demo"),
                           "--port", str(free_port()), "--seconds", "30"], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=120)
    output = done.stdout + done.stderr
    lines = output.splitlines()
    print(f"{len(lines)} console lines in a 30 s demo run")
    assert done.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    assert "fatal IO error" not in output  # the virtual screen outlives the kiosk drawing on it
    chatter = [line for line in lines if re.search(r"\b(kivy|paho)[\w.]*: ", line)]
    assert not chatter, chatter
    problems = [_STAMP.sub("", line) for line in lines if re.search(r"\b(WARNING|ERROR|CRITICAL)\b", line)
                and "/result" not in line]
    repeated = sorted({line for line in problems if problems.count(line) > 1})
    assert not repeated, repeated
    assert any("cmd/directory.update/result" in line and " ok" in line for line in lines), output[-3000:]
