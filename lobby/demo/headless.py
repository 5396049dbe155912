"""The demo without a display: the kiosk on a virtual screen (Xvfb), its picture saved as a file.

`lobby demo` on a machine without DISPLAY (a server, an ssh session, CI) starts Xvfb
itself, runs the kiosk on it and saves a screenshot every few seconds to
`<state_dir>/screens/latest.png`, so a newcomer sees the product by opening one file;
with x11vnc installed the same screen can be watched and tapped live.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

SHOT_EVERY_S = 2.0


def free_display() -> int:
    for n in range(90 + os.getpid() % 50, 400):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise OSError("no free X display number")


def xvfb_argv(number: int, width: int, height: int) -> list[str] | None:
    binary = shutil.which("Xvfb")
    if binary is None:
        return None
    return [binary, f":{number}", "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp", "-dpi", "96",
            "-noreset"]


def wait_for_display(number: int, proc: subprocess.Popen[bytes], stop: threading.Event, limit_s: float = 10) -> bool:
    waited = 0.0
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if proc.poll() is not None or stop.is_set() or waited >= limit_s:
            return False
        stop.wait(0.05)
        waited += 0.05
    return True


def how_to_see(number: int, picture: Path) -> str:
    """The one line the demo prints: where the picture is, and how to use the screen live."""
    line = (f"no display: the kiosk runs on a virtual screen (Xvfb :{number}); open {picture} to see it "
            f"(saved every {SHOT_EVERY_S:g} s)")
    if shutil.which("x11vnc"):
        line += f", or tap it live: x11vnc -display :{number} -localhost, then a VNC viewer on 127.0.0.1:5900"
    return line


class Screenshots:
    """Saves the virtual screen to `picture` every SHOT_EVERY_S seconds (ImageMagick's `import`)."""

    def __init__(self, number: int, picture: Path, stop: threading.Event) -> None:
        self.number = number
        self.picture = picture
        self.stop = stop
        self.tool = shutil.which("import")
        self.thread = threading.Thread(target=self._run, name="demo-screenshots", daemon=True)

    def start(self) -> Screenshots:
        self.picture.parent.mkdir(parents=True, exist_ok=True)
        if self.tool is not None:
            self.thread.start()
        return self

    def take(self) -> bool:
        assert self.tool is not None
        tmp = self.picture.with_name(self.picture.stem + ".tmp.png")
        done = subprocess.run([self.tool, "-display", f":{self.number}", "-window", "root", str(tmp)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        if done.returncode != 0 or not tmp.exists():
            return False
        os.replace(tmp, self.picture)
        return True

    def _run(self) -> None:
        while not self.stop.wait(SHOT_EVERY_S):
            self.take()
