"""`lobby demo`: the whole product on simulated hardware with a local broker.

It starts a local mosquitto (the embedded default broker), the gateway with
--simulate, the kiosk (in a window; without a display on a virtual screen whose
picture is saved to <state_dir>/screens/latest.png, lobby/demo/headless.py), and a
scripted day in the lobby that drives the simulated hardware, then prints what
central receives, one line per message. Ctrl-C stops everything within seconds
and exits 0.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lobby.demo.supervisor import Supervisor


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", default="config/example.toml", metavar="FILE",
                        help="the configuration to demonstrate (default config/example.toml)")
    parser.add_argument("--state-dir", default="var/demo", help="where the demo keeps its store and logs")
    parser.add_argument("--port", type=int, default=1883, help="local broker port (another is chosen if busy)")
    parser.add_argument("--seconds", type=float, default=0, help="stop by itself after this long (0: until Ctrl-C)")
    parser.add_argument("--no-kiosk", action="store_true", help="do not start the touchscreen app")
    parser.add_argument("--no-scenario", action="store_true", help="do not run the scripted lobby day")


def _lobby(*args: str) -> list[str]:
    return [sys.executable, "-m", "lobby.cli", *args]


# the product's 800x480 plus the simulator panel's handle beside it (kiosk/testing/simpanel.py: 0.55 tap)
KIOSK_SIZE = (833, 480)


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _start_kiosk(sup: Supervisor, config: Path, env: dict[str, str], state_dir: Path,
                 stopping: threading.Event) -> None:
    """The kiosk in a window, or without a display on a virtual screen whose picture is saved as a file."""
    from lobby.demo import headless

    argv = _lobby("--log-level", "WARNING", "kiosk", "--config", str(config), "--simulate",
                  "--size", "{}x{}".format(*KIOSK_SIZE))
    if _has_display():
        sup.start("kiosk", argv, env)
        sup.say("demo", "kiosk started in a window (lobby kiosk --simulate); the SIM handle at its right "
                        "edge opens the simulator panel: cards and buttons")
        return
    number = headless.free_display()
    xvfb = headless.xvfb_argv(number, *KIOSK_SIZE)
    if xvfb is None:
        sup.say("demo", "no display and no Xvfb: the kiosk is not started (./dev.sh demo installs Xvfb); "
                        "the scripted day uses the same lobby services")
        return
    screen = sup.start("xvfb", xvfb, quiet=True)
    if not headless.wait_for_display(number, screen.proc, stopping):
        sup.say("demo", f"no display, and Xvfb :{number} did not start: the kiosk is not started")
        return
    sup.start("kiosk", argv, {**env, "DISPLAY": f":{number}"})
    picture = state_dir / "screens" / "latest.png"
    headless.Screenshots(number, picture, stopping).start()
    sup.say("demo", headless.how_to_see(number, picture))


def run(args: argparse.Namespace) -> int:
    from lobby.demo.setup import free_port, start_broker, write_demo_config
    from lobby.demo.supervisor import Supervisor
    from lobby.logsetup import setup_logging

    setup_logging(args.log_level or "WARNING")
    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())

    state_dir = Path(args.state_dir).resolve()
    port = free_port(args.port)
    config = write_demo_config(Path(args.config), state_dir, port)
    sup = Supervisor()
    sup.say("demo", f"configuration {args.config} -> {config} (state in {state_dir})")
    broker = start_broker(state_dir / "broker", port)
    sup.say("demo", f"local broker (mosquitto) on 127.0.0.1:{port}")
    env = {"LOBBY_CLOCK_SYNCED": os.environ.get("LOBBY_CLOCK_SYNCED", "1"), "PYTHONUNBUFFERED": "1"}
    sup.start("gateway", _lobby("--log-level", "WARNING", "gateway", "--config", str(config), "--simulate"), env)
    sup.say("demo", "gateway started on simulated meters, NFC readers and GPIO (lobby gateway --simulate)")
    if not args.no_kiosk:
        _start_kiosk(sup, config, env, state_dir, stopping)
    if not args.no_scenario:
        sup.start("scenario", _lobby("--log-level", "WARNING", "demo-scenario", "--config", str(config)), env)
    sup.start("central", _lobby("--log-level", "WARNING", "watch", "--config", str(config), "--brief"), env)
    sup.say("demo", "[central] lines show what the central system receives; Ctrl-C stops the demo")
    started = time.monotonic()
    try:
        while not stopping.is_set():
            if args.seconds and time.monotonic() - started >= args.seconds:
                break
            crashed = [c for c in sup.dead() if c.name in ("gateway", "central")]
            if crashed:
                sup.say("demo", f"{crashed[0].name} exited with status {crashed[0].proc.returncode}; stopping")
                break
            stopping.wait(0.2)
    finally:
        stopping.set()
        sup.say("demo", "stopping ...")
        sup.stop_all(grace_s=3.0)
        broker.terminate()
        try:
            broker.wait(2)
        except Exception:  # noqa: BLE001
            broker.kill()
        if sup.console.repeats:
            sup.say("demo", f"({sup.console.repeats} repeated warning line(s) were shown once only)")
        sup.say("demo", "stopped")
    return 0
