"""A scripted day in the lobby, played against the running demo.

Each step does what a person or central would do, through the same paths they
use: commands over MQTT as central sends them, the lobby services as the
touchscreen calls them, the simulators' control sockets as a card or a finger
would. It prints one line per step and loops until stopped.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ..config import Config

log = logging.getLogger(__name__)


@dataclass
class Step:
    says: str
    act: Callable[[], object]
    wait_s: float = 3.0


class Central:
    """Sends commands as the central system does."""

    def __init__(self, cfg: Config) -> None:
        self.base = cfg.base_topic
        self.ids = itertools.count(1)
        self.online = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="demo-central-commands")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(f"{self.base}/status", qos=1)
        self.client.on_message = lambda c, u, m: self.online.set() if b'"online"' in m.payload else None
        self.client.connect(cfg.mqtt.host, cfg.mqtt.port)
        self.client.loop_start()

    def command(self, name: str, data: dict) -> None:
        payload = {"id": f"demo-{int(time.time())}-{next(self.ids)}", "ts": "2026-11-25T10:00:00Z", "data": data}
        self.client.publish(f"{self.base}/cmd/{name}", json.dumps(payload, ensure_ascii=False), qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Panel:
    """Presses the simulated GPIO buttons as a tenant would (through the gateway's sim socket)."""

    def __init__(self, cfg: Config) -> None:
        from drivers.sim.gpio_control import GpioControlClient

        self.client = GpioControlClient(Path(cfg.state_dir) / "sim" / "gpio.sock")

    def click(self, button_id: str) -> None:
        self.client.click(button_id)


def steps(cfg: Config, central: Central) -> list[Step]:
    panel = Panel(cfg)
    button = cfg.buttons[0].id if cfg.buttons else None
    extra: list[Step] = []
    if button:
        extra += [
            Step(f"someone presses the '{cfg.buttons[0].meaning}' button ({cfg.buttons[0].place}): a ticket opens",
                 lambda: panel.click(button)),
            Step("they press it twice more: the presses join the same ticket", lambda: (panel.click(button),
                                                                                         panel.click(button))),
        ]
    return extra + [
        Step("central pings the gateway", lambda: central.command("ping", {"echo": "hello lobby"})),
        Step("central shows a notice on the kiosk",
             lambda: central.command("notice.show", {"notice_id": "water-off",
                                                     "title": "明日10:00-12:00停水 Water off tomorrow 10:00-12:00"})),
        Step("central sends the host directory",
             lambda: central.command("directory.update", {"entries": [
                 {"id": "u1201", "unit": "1201", "company": "星河科技 Xinghe Tech", "floor": "12F"},
                 {"id": "u0805", "unit": "0805", "company": "明德律师事务所 Mingde Law", "floor": "8F"}]})),
        Step("a malformed command is answered with an error, nothing breaks",
             lambda: central.client.publish(f"{central.base}/cmd/ping", b"{not json", qos=1)),
    ]


def play(cfg: Config, stop: threading.Event, say: Callable[[str], None] = print) -> None:
    central = Central(cfg)
    while not central.online.wait(0.2):  # commands are only heard once the gateway has subscribed
        if stop.is_set():
            central.close()
            return
    try:
        while not stop.is_set():
            for step in steps(cfg, central):
                if stop.is_set():
                    break
                say(step.says)
                try:
                    step.act()
                except Exception as exc:  # a demo step failing must not end the demo
                    say(f"  (step failed: {exc})")
                stop.wait(step.wait_s)
    finally:
        central.close()
