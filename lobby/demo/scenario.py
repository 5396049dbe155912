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
from datetime import datetime, timezone

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from lobby.config import Config

log = logging.getLogger(__name__)
DEMO_NAME = "演示访客"  # the scripted visitor: "demo visitor", never a real person's name
DEMO_PHONE_PREFIX = "1390000"  # 139-0000-xxxx, xxxx counting the demo's rounds


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
        # sent now: the gateway refuses commands older than mqtt.command_max_age_s
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        payload = {"id": f"demo-{int(time.time())}-{next(self.ids)}", "ts": now, "data": data}
        self.client.publish(f"{self.base}/cmd/{name}", json.dumps(payload, ensure_ascii=False), qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Panel:
    """Presses the simulated GPIO buttons as a tenant would (through the gateway's sim socket)."""

    def __init__(self, cfg: Config) -> None:
        from drivers.gpio.sim import GpioControlClient
        from drivers.sim.paths import gpio_socket, sim_dir

        self.client = GpioControlClient(gpio_socket(sim_dir(cfg.state_dir)))

    def click(self, button_id: str) -> None:
        self.client.click(button_id)


class Lobby:
    """Does what the touchscreen does, through the same lobby services (for a headless demo)."""

    def __init__(self, cfg: Config) -> None:
        from lobby.services import LobbyServices
        from lobby.cardhash import load_key
        from lobby.config import state_path
        from mqtt_bridge.store import Store

        self.store = Store(state_path(cfg, cfg.store.path), cfg.store.busy_timeout_ms)
        self.services = LobbyServices(self.store, cfg, card_key=load_key(cfg.state_dir))
        self.visit_id: str | None = None
        self.round = 0

    def check_in(self, say: Callable[[str], None]) -> None:
        from lobby.services import CheckInForm

        hosts = self.services.hosts("")
        if not hosts:
            say("  (no hosts in the directory yet: central sends them with directory.update)")
            return
        # a name and number nobody would type, marked as the demo's: a person trying their own name
        # (or 张伟) at the kiosk never meets "already checked in"; each round checks out what it checked in
        self.round += 1
        outcome = self.services.visitors.check_in(CheckInForm(
            name=DEMO_NAME, phone=f"{DEMO_PHONE_PREFIX}{self.round % 10000:04d}", host_id=hosts[0].id,
            purpose="meeting", party_size=1, company="演示 Demo", consent=True))
        say(f"  -> {outcome.message.zh} / {outcome.message.en}")
        if outcome.ok and outcome.value is not None:
            self.visit_id = getattr(outcome.value, "visit_id", None)

    def feedback(self, say: Callable[[str], None]) -> None:
        outcome = self.services.feedback.press("very_happy")
        say(f"  -> {outcome.message.zh} / {outcome.message.en}")

    def complaint(self, say: Callable[[str], None]) -> None:
        from lobby.services import TicketForm

        outcome = self.services.tickets.create(TicketForm(
            kind="repair", category="engineering", floor=self.services.ctx.cfg.places.floors[0],
            description="电梯按钮失灵 Lift button not working", urgent=False))
        say(f"  -> {outcome.message.zh}")

    def acknowledge_button_ticket(self, central: Central, button_id: str) -> None:
        number = self.store.scalar("SELECT ticket_no FROM button_tickets WHERE button_id = ? "
                                   "ORDER BY opened_ts DESC LIMIT 1", (button_id,))
        if number:
            central.command("ticket.update", {"ticket_no": number, "status": "assigned",
                                              "reply": "保洁员已派出 A cleaner is on the way"})

    def check_out(self, say: Callable[[str], None]) -> None:
        if self.visit_id is None:
            return
        outcome = self.services.visitors.check_out(self.visit_id, "phone")
        say(f"  -> {outcome.message.zh} / {outcome.message.en}")
        self.visit_id = None


class Reader:
    """Presents cards to a simulated PN532 on the gateway, as a guard would."""

    def __init__(self, cfg: Config) -> None:
        from drivers.nfc.sim.pn532_control import ControlClient
        from drivers.sim.paths import reader_socket, sim_dir

        self.reader = next((r for r in cfg.readers if r.host == "gateway"), None)
        self.guard = cfg.patrol.guards[0].card_uid if cfg.patrol.guards else None
        self.client = (ControlClient(reader_socket(sim_dir(cfg.state_dir), self.reader.id))
                       if self.reader else None)

    def tap_guard_card(self) -> None:
        if self.client is None or self.guard is None:
            return
        self.client.present(self.guard, "classic_1k")
        time.sleep(1.0)
        self.client.remove()


class MeterFaults:
    """Breaks a simulated meter for a while, through the meter simulators' control socket."""

    def __init__(self, cfg: Config, meter_id: str) -> None:
        from drivers.sim.control import ControlClient
        from drivers.sim.paths import meters_socket, sim_dir

        self.meter = meter_id
        self.client = ControlClient(meters_socket(sim_dir(cfg.state_dir)))
        self.calls = 0

    def cycle(self, say: Callable[[str], None]) -> None:
        """First call: the meter stops answering; a few loops later it answers again."""
        phase = self.calls % 4
        self.calls += 1
        if phase == 0:
            self.client.request({"cmd": "fault", "meter": self.meter, "fault": "no_reply"})
            say(f"  -> {self.meter} stops answering: after a few failed polls central sees meter.offline:{self.meter}")
        elif phase == 3:
            self.client.request({"cmd": "clear", "meter": self.meter})
            say(f"  -> {self.meter} answers again: the alert clears")


def steps(cfg: Config, central: Central, say: Callable[[str], None]) -> list[Step]:
    panel = Panel(cfg)
    lobby = Lobby(cfg)
    reader = Reader(cfg)
    script = [
        Step("central pings the gateway", lambda: central.command("ping", {"echo": "hello lobby"})),
        Step("central sends the host directory",
             lambda: central.command("directory.update", {"entries": [
                 {"id": "u1201", "unit": "1201", "company": "星河科技 Xinghe Tech", "floor": "12F"},
                 {"id": "u0805", "unit": "0805", "company": "明德律师事务所 Mingde Law", "floor": "8F"}]})),
        Step("central shows a notice on the kiosk",
             lambda: central.command("notice.show", {"notice_id": "water-off",
                                                     "title": "明日10:00-12:00停水 Water off tomorrow 10:00-12:00"})),
        Step(f"a visitor checks in at the touchscreen ({DEMO_NAME}, demo, meeting)", lambda: lobby.check_in(say)),
    ]
    if cfg.buttons:
        button = cfg.buttons[0]
        script += [
            Step(f"someone presses the '{button.meaning}' button ({button.place}): a ticket opens",
                 lambda: panel.click(button.id)),
            Step("they press it twice more: the presses join the same ticket",
                 lambda: (panel.click(button.id), panel.click(button.id))),
            Step("central acknowledges that ticket (ticket.update): the button's LED stops blinking",
                 lambda: lobby.acknowledge_button_ticket(central, button.id)),
        ]
    if reader.reader is not None:
        script.append(Step(f"a guard taps his card at the {reader.reader.checkpoint} checkpoint reader (patrol)",
                           reader.tap_guard_card))
    if cfg.meters:
        faults = MeterFaults(cfg, min(cfg.meters, key=lambda m: m.interval_s).id)
        script.append(Step("the meter bus in the plant room (fault injection on the simulator)",
                           lambda: faults.cycle(say)))
    script += [
        Step("a tenant rates the service: very happy", lambda: lobby.feedback(say)),
        Step("a tenant reports a repair at the touchscreen", lambda: lobby.complaint(say)),
        Step("the visitor leaves", lambda: lobby.check_out(say)),
        Step("central sends a deliberately malformed command: the ERROR result below is expected, nothing breaks",
             lambda: central.client.publish(f"{central.base}/cmd/ping", b"{not json", qos=1)),
    ]
    return script


def play(cfg: Config, stop: threading.Event, say: Callable[[str], None] = print) -> None:
    central = Central(cfg)
    while not central.online.wait(0.2):  # commands are only heard once the gateway has subscribed
        if stop.is_set():
            central.close()
            return
    script = steps(cfg, central, say)
    try:
        while not stop.is_set():
            for step in script:
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
