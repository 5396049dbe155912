"""Driving the real kiosk under Xvfb: start it, read its widget map, click and type with xdotool.

The app runs as `python -m lobby.cli kiosk --config ... --simulate` with
LOBBY_KIOSK_TEST_MAP set (kiosk/testing/probe.py): it writes the named widgets of the current
screen with their X screen rectangles, so a test clicks a widget by its name. Cards are
presented on the kiosk's PN532 simulator through its control socket, exactly as the
on-screen simulator panel does.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "build" / "screenshots"
FONT_CACHE = REPO / "build" / "cache"
WAIT_S = 20.0
XDOTOOL = shutil.which("xdotool") or "xdotool"
IMPORT = shutil.which("import") or "import"


def free_display() -> int:
    for n in range(40 + os.getpid() % 40, 400):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number")


class Xvfb:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.number = free_display()
        self.display = f":{self.number}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Xvfb:
        self.proc = subprocess.Popen(["Xvfb", self.display, "-screen", "0", f"{self.width}x{self.height}x24",
                                      "-nolisten", "tcp", "-dpi", "96", "-noreset"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{self.number}").exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"Xvfb {self.display} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def write_config(path: Path, state_dir: Path, port: int, extra: str = "", kiosk: str = "") -> Path:
    path.write_text(f"""
version = 1
state_dir = "{state_dir}"
[site]
site_id = "tower-a"
gateway_id = "gw-ui"
name = "A座大堂 Tower A lobby"
timezone = "Asia/Shanghai"
[mqtt]
host = "127.0.0.1"
port = {port}
keepalive_s = 5
reconnect_min_s = 0.2
reconnect_max_s = 2
[mqtt.tls]
enabled = false
[mqtt.discovery]
enabled = false
[security]
staff_pin_hash = "{PIN_HASH}"
pin_max_attempts = 3
pin_lockout_min = 5
[kiosk]
fullscreen = false
staff_cards = ["5A3B9C01"]
dim_from = "00:00"
dim_to = "00:00"
{kiosk}
[printer]
kind = "file"
path = "printer.bin"
[[readers]]
id = "nfc-lobby"
kind = "libnfc"
connstring = "pn532_uart:/dev/lobby-nfc"
host = "kiosk"
checkpoint = "cp-lobby"
retap_window_s = 0
[patrol]
checkpoints = [
  {{ id = "cp-lobby", name = "大堂", place = "大堂 Lobby", reader = "nfc-lobby" }},
  {{ id = "cp-b1", name = "B1 停车场", place = "B1 Car park", tag_uid = "04A1B2C3D4E501" }},
]
guards = [ {{ id = "g-wang", name = "王保安", card_uid = "7E11AA01" }}, {{ id = "g-li", name = "李保安", card_uid = "7E11AA02" }} ]
routes = [ {{ id = "night", name = "夜间巡更 Night round", checkpoints = ["cp-lobby", "cp-b1"], ordered = true, max_gap_min = 15 }} ]
{extra}
""", encoding="utf-8")
    return path


PIN = "246810"


def _pin_hash() -> str:
    sys.path.insert(0, str(REPO))
    from lobby.services.pin import hash_pin

    return hash_pin(PIN, salt=bytes(16))  # a fixed salt: the same config text every run


PIN_HASH = _pin_hash()

DIRECTORY = [
    ("h-1203", "12F-1203", "华润置地", "李娜", "12F"),
    ("h-0801", "8F-0801", "Acme Trading", "Bob Lee", "8F"),
    ("h-0305", "3F-0305", "星河科技", "", "3F"),
    ("h-1501", "15F-1501", "中信银行", "陈静", "15F"),
]


def seed(config_path: Path) -> None:
    """The directory central would have sent (directory.update), written straight into the store."""
    from lobby.config import load_config, state_path
    from mqtt_bridge.store import Store

    cfg = load_config(config_path)
    store = Store(state_path(cfg, cfg.store.path))
    with store.transaction() as tx:
        for entry in DIRECTORY:
            tx.execute("INSERT OR IGNORE INTO directory (id, unit, company, person, floor, active, updated_ts) "
                       "VALUES (?, ?, ?, ?, ?, 1, '2026-11-01T00:00:00.000Z')", entry)
    store.close()


_KEYSYMS = {"-": "minus", "_": "underscore", " ": "space", ".": "period"}


_prepared: set[str] = set()


def prepare_ui_font(config: Path) -> None:
    """Build the kiosk's UI font in the shared cache before a kiosk starts, as the installer does.

    The cache is per version (a commit is one), and a kiosk that finds none draws with the
    full faces and restarts itself once its background build is done: a kiosk shared by a
    module's tests must not restart between them. Built once per version (about 30 s; the
    workers wait on the builder's lock, and the next run finds it)."""
    from lobby.config import load_config

    font = load_config(config).kiosk.font_path
    if font in _prepared:
        return
    env = {**os.environ, "XDG_CACHE_HOME": str(FONT_CACHE), "PYTHONPATH": str(REPO)}
    FONT_CACHE.mkdir(parents=True, exist_ok=True)
    # one worker builds, the others wait here (the builder's own lock makes a second builder give up
    # at once, and its kiosk would then start before the font exists)
    with open(FONT_CACHE / "prepare.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run([sys.executable, "-c", "import sys; from kiosk.fonts import prepare_ui_fonts; "
                        "prepare_ui_fonts(sys.argv[1])", font], env=env, cwd=str(REPO), check=True, timeout=900,
                       stdout=subprocess.DEVNULL)
    _prepared.add(font)


class Kiosk:
    """The kiosk process and what a test does with it."""

    def __init__(self, xvfb: Xvfb, config: Path, workdir: Path, lang: str = "zh", simulate: bool = True,
                 sim_panel: bool = False, wrap: tuple[str, ...] = (), font_cache: Path | None = None) -> None:
        self.wrap = wrap  # a command the app runs under, e.g. ("unshare", "--net") for a machine without network
        self.xvfb = xvfb
        self.config = config
        self.workdir = workdir
        self.lang = lang
        self.simulate = simulate
        self.sim_panel = sim_panel
        self.font_cache = font_cache or FONT_CACHE  # XDG_CACHE_HOME: where the UI font is built and kept
        self.map_path = workdir / "kiosk-map.json"
        self.events_path = Path(str(self.map_path) + ".events")
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "kiosk.log"
        self.started = 0.0
        self._control: Any = None
        self._where: tuple[str, str] = ("", "")
        self._xdo: subprocess.Popen[str] | None = None

    # ------------------------------------------------------------------ process

    def start(self, timeout: float = 40.0) -> Kiosk:
        if self.font_cache == FONT_CACHE:
            prepare_ui_font(self.config)
        for p in (self.map_path, self.events_path):
            p.unlink(missing_ok=True)
        env = {**os.environ, "DISPLAY": self.xvfb.display, "LOBBY_KIOSK_TEST_MAP": str(self.map_path),
               "XDG_CACHE_HOME": str(self.font_cache), "LOBBY_CLOCK_SYNCED": "1", "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": str(REPO), "LOBBY_KIOSK_SIM_PANEL": "1" if self.sim_panel else "0",
               "LP_NUM_THREADS": os.environ.get("LP_NUM_THREADS", "1")}  # software GL: one core per app
        argv = [sys.executable, "-m", "lobby.cli", "--log-level", "INFO", "kiosk", "--config",
                str(self.config), "--lang", self.lang, "--size", f"{self.xvfb.width}x{self.xvfb.height}"]
        if self.simulate:
            argv.append("--simulate")
        self.started = time.monotonic()
        self.proc = subprocess.Popen([*self.wrap, *argv], env=env, cwd=str(REPO), stdout=self.log.open("wb"),
                                     stderr=subprocess.STDOUT)
        self.wait(lambda m: m["screen"] == "home" and self.ready(), timeout, "the kiosk's home screen")
        # the first pointer event only brings the window under the pointer; nothing is clicked
        self.xdo("mousemove", "1", "1")
        time.sleep(0.3)
        return self

    def ready(self) -> bool:
        return any(e["ev"] == "ready" for e in self.events())

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self._control is not None:
            self._control.close()
        if self._xdo is not None and self._xdo.poll() is None:
            assert self._xdo.stdin is not None
            self._xdo.stdin.close()
            try:
                self._xdo.wait(3)
            except subprocess.TimeoutExpired:
                self._xdo.kill()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    # ------------------------------------------------------------------ what the app reports

    def map(self) -> dict[str, Any]:
        for _ in range(50):
            try:
                return json.loads(self.map_path.read_text(encoding="utf-8"))
            except (FileNotFoundError, json.JSONDecodeError):
                time.sleep(0.02)
        raise AssertionError("no widget map from the kiosk")

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        if not self.events_path.exists():
            return []
        out = []
        for line in self.events_path.read_text(encoding="utf-8").splitlines():
            try:
                e = json.loads(line)
            except json.JSONDecodeError:
                continue
            if name is None or e["ev"] == name:
                out.append(e)
        return out

    def wait(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = WAIT_S,
             what: str = "condition") -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"the kiosk exited ({self.proc.returncode}) waiting for {what}:\n"
                                     f"{self.log_text()[-3000:]}")
            if self.map_path.exists():
                try:
                    last = self.map()
                    if predicate(last):
                        return last
                except (KeyError, IndexError, TypeError):
                    pass
            time.sleep(0.03)
        raise AssertionError(f"timed out waiting for {what}; screen={last.get('screen')} "
                             f"overlay={last.get('overlay')} widgets={sorted(last.get('widgets', {}))[:60]}")

    def wait_screen(self, name: str, overlay: str = "", timeout: float = WAIT_S) -> dict[str, Any]:
        return self.wait(lambda m: m["screen"] == name and m["overlay"] == overlay and m["busy"] == 0, timeout,
                         f"screen {name!r} overlay {overlay!r}")

    def wait_widget(self, tid: str, timeout: float = WAIT_S) -> dict[str, Any]:
        return self.wait(lambda m: tid in m["widgets"] or tid in m["keys"], timeout, f"widget {tid!r}")["widgets"] \
            .get(tid) or self.map()["keys"][tid]

    def widget(self, tid: str) -> dict[str, Any]:
        m = self.map()
        return m["widgets"].get(tid) or m["keys"][tid]

    def text(self, tid: str) -> str:
        return self.widget(tid).get("text", "")

    # ------------------------------------------------------------------ input

    def xdo(self, *args: str) -> None:
        """One xdotool command line, sent to a long-running `xdotool -` (it runs each line as it comes)."""
        if self._xdo is None or self._xdo.poll() is not None:
            self._xdo = subprocess.Popen([XDOTOOL, "-"], stdin=subprocess.PIPE, text=True,
                                         env={**os.environ, "DISPLAY": self.xvfb.display},
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert self._xdo.stdin is not None
        self._xdo.stdin.write(" ".join(args) + "\n")
        self._xdo.stdin.flush()

    def click(self, tid: str, timeout: float = WAIT_S) -> None:
        """Wait until the widget is on screen and enabled (and the app takes touches again after a
        change of screen), then click its centre."""
        m = self.wait(lambda m: ((tid in m["widgets"] and not m["widgets"][tid]["disabled"]) or tid in m["keys"])
                      and not m.get("guarded"), timeout, f"clickable {tid!r}")
        where = (m["screen"], m["overlay"])
        if where != self._where:  # a new screen: let its layout settle before trusting rectangles
            m = self._stable(tid)
            self._where = where
        if m.get("guarded"):
            m = self.wait(lambda mm: tid in mm["widgets"] or tid in mm["keys"], timeout, f"clickable {tid!r}")
            m = self.wait(lambda mm: not mm.get("guarded"), timeout, "touches taken again")
        w = m["widgets"].get(tid) or m["keys"][tid]
        touches = m.get("touches", 0)
        self.xdo("mousemove", str(w["cx"]), str(w["cy"]), "click", "1")
        self._settle(touches)

    def click_at(self, x: int, y: int, repeat: int = 1, delay_ms: int = 0) -> None:
        """Raw clicks at a screen point, whatever is there (a second tap of a double tap); waits until
        the app has seen them. The first waits until the app takes touches again after a change of screen."""
        touches = self.wait(lambda m: not m.get("guarded"), WAIT_S, "touches taken again").get("touches", 0)
        args = ["mousemove", str(x), str(y), "click"]
        if repeat > 1:
            args += ["--repeat", str(repeat), "--delay", str(delay_ms)]
        self.xdo(*args, "1")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self.map().get("touches", 0) < touches + repeat:
            time.sleep(0.01)

    def settled(self, quiet_s: float = 0.12, timeout: float = 10.0) -> dict[str, Any]:
        """The map once the app is idle and nothing has changed for quiet_s (layout and drawing done)."""
        m = self.map()
        seq, since = m.get("seq", 0), time.monotonic()
        deadline = since + timeout
        while time.monotonic() < deadline:
            time.sleep(0.03)
            m2 = self.map()
            if m2.get("seq", 0) != seq:
                m, seq, since = m2, m2.get("seq", 0), time.monotonic()
            elif time.monotonic() - since >= quiet_s and m["busy"] == 0:
                return m
        return m

    def _stable(self, tid: str, quiet_s: float = 0.1) -> dict[str, Any]:
        """The map once it has not changed for quiet_s (layout finished)."""
        m = self.map()
        seq, since = m.get("seq", 0), time.monotonic()
        deadline = since + 5
        while time.monotonic() < deadline:
            time.sleep(0.03)
            m2 = self.map()
            if m2.get("seq", 0) != seq:
                m, seq, since = m2, m2.get("seq", 0), time.monotonic()
            elif time.monotonic() - since >= quiet_s and (tid in m["widgets"] or tid in m["keys"]):
                return m
        return self.wait(lambda mm: tid in mm["widgets"] or tid in mm["keys"], 5, f"widget {tid!r}")

    def _settle(self, touches: int, timeout: float = 5.0) -> None:
        """Wait until the app has handled our click (its touch count moved on) and is not busy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                m = self.map()
                if m.get("touches", 0) > touches and m["busy"] == 0:
                    return
            except AssertionError:
                pass
            time.sleep(0.01)

    def keys(self, *key_ids: str) -> None:
        """Press on-screen keyboard keys by id ('z', 'space', 'enter', 'cand0' ...)."""
        for key_id in key_ids:
            self.click(f"key:{key_id}")

    def type_letters(self, text: str) -> None:
        for ch in text:
            self.click(f"key:{ch}")

    def type_code(self, text: str) -> int:
        """Letters and digits, switching between the keyboard's layouts (EN / 123) as needed;
        returns how many switches that took."""
        switches = 0
        for ch in text.lower():
            for _ in range(3):
                if f"key:{ch}" in self.map()["keys"]:
                    break
                before = self.map()["keys"].get("key:_layout", {}).get("text")
                self.click("key:toggle")
                switches += 1
                self.wait(lambda m, b=before: m["keys"].get("key:_layout", {}).get("text") != b, 5, "another layout")
            self.click(f"key:{ch}")
        return switches

    def choose_candidate(self, text: str) -> None:
        m = self.wait(lambda m: any(v.get("text") == text for k, v in m["keys"].items() if k.startswith("key:cand")),
                      WAIT_S, f"candidate {text!r}")
        key = next(k for k, v in m["keys"].items() if k.startswith("key:cand") and v.get("text") == text)
        self.click(key)

    def hw_type(self, text: str) -> None:
        """Hardware keyboard input (a USB scanner is a keyboard): the text, then Enter."""
        for ch in text:
            self.xdo("key", "--delay", "5", _KEYSYMS.get(ch, ch))
        self.xdo("key", "Return")

    def hw_key(self, name: str) -> None:
        self.xdo("key", name)

    # ------------------------------------------------------------------ cards, control, pictures

    def tap_card(self, uid: str, reader: str = "nfc-lobby", hold_s: float = 0.5) -> None:
        from drivers.nfc.sim.pn532_control import ControlClient
        from lobby.config import load_config

        cfg = load_config(self.config)
        with ControlClient(Path(cfg.state_dir) / "sim" / f"{reader}.sock") as client:
            client.present(uid, "ntag215" if len(uid) == 14 else "classic_1k")
            time.sleep(hold_s)
            client.remove()

    def control(self, cmd: str, **args: Any) -> dict[str, Any]:
        from drivers.sim.control import ControlClient

        if self._control is None:
            self._control = ControlClient(str(self.map_path) + ".sock", timeout_s=600)
        return self._control.request({"cmd": cmd, **args})

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        subprocess.run([IMPORT, "-display", self.xvfb.display, "-window", "root", str(path)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return path


def ticket_through_description(k: Kiosk, kind: str, category: str, pinyin: str) -> None:
    """Home -> a ticket's kind, category, place (floor 1, the first area) and a description typed in
    pinyin (its first candidate), then next: the kiosk asks urgent, a contact or confirm after it."""
    k.click("ticket")
    k.wait_screen("tk_kind")
    k.click(f"kind_{kind}")
    k.wait_screen("tk_category")
    k.click(f"category_{category}")
    k.wait_screen("tk_place")
    k.click("floor_1")
    k.click("area_0")
    k.click("next")
    k.wait_screen("tk_desc")
    k.type_letters(pinyin)
    k.click("key:cand0")
    k.click("next")


def start_checkin(k: Kiosk) -> None:
    """Home -> the first question of a walk-in check-in (the name)."""
    k.click("checkin")
    k.wait(lambda m: m["screen"] in ("ci_start", "ci_name"), what="check-in started")
    if k.map()["screen"] == "ci_start":
        k.click("walkin")
    k.wait_screen("ci_name")


def checkin_to_host(k: Kiosk) -> None:
    """Home -> a walk-in check-in's host question: the name `wang` (its first candidate) and a mobile."""
    start_checkin(k)
    k.type_letters("wang")
    k.click("key:cand0")
    k.click("next")
    k.wait_screen("ci_phone")
    k.type_letters("13800138000")
    k.click("next")
    k.wait_screen("ci_host")
