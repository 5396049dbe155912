"""The demo app on a virtual X screen, driven by real mouse clicks (xdotool)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.ui,
    pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xdotool") and shutil.which("import")),
                       reason="needs Xvfb, xdotool and imagemagick's import"),
]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def xdisplay() -> Iterator[str]:
    """A fresh Xvfb on a free display number (Xvfb picks it and tells us through a pipe)."""
    r, w = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "800x480x24", "-nolisten", "tcp"],
                            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    try:
        with os.fdopen(r) as fh:
            number = fh.readline().strip()
        assert number.isdigit(), "Xvfb did not start"
        yield f":{number}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_for(fn, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = fn()
        except (OSError, ValueError, KeyError):
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Demo:
    def __init__(self, display: str, tmp: Path, kind: str = "name"):
        self.display = display
        self.state_path = tmp / "state.json"
        self.keys_path = tmp / "keys.json"
        env = dict(os.environ, DISPLAY=display, KIVY_HOME=str(tmp / "kivy"), KIVY_NO_ARGS="1",
                   KIVY_NO_CONSOLELOG="1", LOBBY_FONT_CACHE=str(tmp.parent / "fonts"))
        self.log = open(tmp / "demo.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "kiosk.ime.demo", "--kind", kind, "--state",
                                      str(self.state_path), "--keys", str(self.keys_path)],
                                     cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def state(self) -> dict:
        return json.loads(self.state_path.read_text(encoding="utf-8"))

    def keys(self) -> dict:
        return json.loads(self.keys_path.read_text(encoding="utf-8"))["keys"]

    def click(self, key: str) -> None:
        x, y = self.keys()[key]
        subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"],
                       env=dict(os.environ, DISPLAY=self.display), check=True, timeout=10)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def demo(xdisplay: str, tmp_path: Path) -> Iterator[Demo]:
    d = Demo(xdisplay, tmp_path)
    try:
        wait_for(lambda: d.keys_path.exists() and d.state_path.exists(), 25, "the demo app to start")
        yield d
    finally:
        d.close()


def test_type_zhangwei_with_clicks(demo: Demo, tmp_path: Path):
    keys = demo.keys()
    # Touch targets: at least 60 px apart at 800×480 (15 mm on a 7" panel).
    assert keys["w"][0] - keys["q"][0] >= 60 and keys["a"][1] - keys["q"][1] >= 60
    typed = ""
    for letter in "zhangwei":
        demo.click(letter)
        typed += letter
        wait_for(lambda: demo.state()["composition"] == typed, 5, f"composition {typed!r}")
    state = demo.state()
    assert state["preedit"] == "zhang'wei"
    slot = state["candidates"].index("张")
    demo.click(f"cand{slot}")
    state = wait_for(lambda: (s := demo.state())["text"] == "张" and s, 5, "张 committed")
    assert state["composition"] == "wei"
    demo.click(f"cand{state['candidates'].index('伟')}")
    state = wait_for(lambda: (s := demo.state())["text"] == "张伟" and s, 5, "张伟 committed")
    assert state["composition"] == "" and state["candidates"] == []
    time.sleep(0.3)  # let the frame with the committed text be drawn

    shot = tmp_path / "screen.png"
    subprocess.run(["import", "-display", demo.display, "-window", "root", str(shot)], check=True, timeout=15)
    from PIL import Image
    img = Image.open(shot).convert("RGB")
    assert img.size == (800, 480)
    colours = img.getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 20, "the screen looks blank"
    field = img.crop((12, 50, 300, 100)).convert("L")  # where the field's text is drawn
    assert field.getextrema()[0] < 80, "no dark text in the field"

    demo.click("enter")
    wait_for(lambda: demo.state()["submitted"] == "张伟", 5, "submit")
