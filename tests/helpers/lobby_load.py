"""Steady load on a running gateway from outside its process, as a lobby sees it.

- `LobbyProducer`: the kiosk's share, through the lobby services in this process
  (check-ins, tickets, feedback faces). An action is *acknowledged* when the
  service returned ok: its record and event were committed. Each acknowledgement
  is kept as (event type, the id that event carries) so a test can find it at
  central and in the store.
- `PanelPresser`: fingers on the GPIO buttons, through the gateway's simulated
  panel (`<state>/sim/gpio.sock`).
- `GuardTapper`: a guard's card on the gateway's checkpoint reader (the PN532
  simulator's control socket).

The socket producers reconnect by themselves while the gateway is down.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from lobby.config import Config

SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红"
DIRECTORY = [("h-1203", "12F-1203", "华润置地", "李娜", "12F"), ("h-0801", "8F-0801", "Acme Trading", "Bob Lee", "8F")]


def seed_directory(store: Any) -> None:
    with store.transaction() as tx:
        for entry in DIRECTORY:
            tx.execute("INSERT OR IGNORE INTO directory (id, unit, company, person, floor, active, updated_ts) "
                       "VALUES (?, ?, ?, ?, ?, 1, '2026-11-01T00:00:00.000Z')", entry)


class LobbyProducer(threading.Thread):
    """Kiosk actions at about `rate_hz`; `acked` lists what the caller was told was saved."""

    def __init__(self, db: Path, cfg: Config, *, rate_hz: float = 8.0, seed: int = 1,
                 phone_base: int = 139_0000_0000, names: list[str] | None = None,
                 mix: tuple[float, float, float] = (0.5, 0.2, 0.3)) -> None:
        super().__init__(daemon=True, name="lobby-producer")
        from lobby.services import LobbyServices
        from lobby.cardhash import load_key
        from mqtt_bridge.store import Store

        self.store = Store(db, busy_timeout_ms=30_000)
        seed_directory(self.store)
        self.services = LobbyServices(self.store, cfg, card_key=load_key(cfg.state_dir))
        self.rng = random.Random(seed)
        self.period = 1.0 / rate_hz
        self.phone = phone_base
        self.names = names
        self.mix = mix
        self.stop_flag = threading.Event()
        self.acked: list[tuple[str, str]] = []
        self.outcomes: Counter[str] = Counter()
        self.check_ins: list[tuple[str, str, str]] = []  # (visit id, name, phone) for privacy checks
        self.tickets: list[tuple[str, str, str]] = []  # (ticket no, contact name, phone)

    def _person_name(self) -> str:
        if self.names:
            return self.rng.choice(self.names)
        return self.rng.choice(SURNAMES) + "".join(self.rng.choice(GIVEN) for _ in range(self.rng.randint(1, 2)))

    def act_once(self) -> None:
        from lobby.services import CheckInForm, TicketForm

        pick = self.rng.random()
        self.phone += 1
        phone = str(self.phone)
        if pick < self.mix[0]:
            name = self._person_name()
            outcome = self.services.visitors.check_in(CheckInForm(
                name=name, phone=phone, host_id=self.rng.choice(DIRECTORY)[0], purpose="meeting",
                party_size=self.rng.randint(1, 3), company="测试公司 Test Co", consent=True))
            if outcome.ok and outcome.status == "checked_in" and outcome.value is not None:
                self.acked.append(("visitor.checked_in", outcome.value.visit_id))
                self.check_ins.append((outcome.value.visit_id, name, phone))
        elif pick < self.mix[0] + self.mix[1]:
            name = self._person_name()
            outcome = self.services.tickets.create(TicketForm(
                kind="repair", category="engineering", floor="1F", description="灯不亮 The light is out",
                contact_name=name, contact_phone=phone))
            if outcome.ok and outcome.value is not None:
                self.acked.append(("ticket.created", outcome.value.ticket_no))
                self.tickets.append((outcome.value.ticket_no, name, phone))
        else:
            outcome = self.services.feedback.press(self.rng.choice(["happy", "very_happy", "unhappy"]))
            if outcome.ok and outcome.value is not None:
                self.acked.append(("feedback.press", outcome.value.press_id))
        self.outcomes[outcome.status] += 1

    def run(self) -> None:
        while not self.stop_flag.is_set():
            self.act_once()
            self.stop_flag.wait(self.period)

    def stop(self) -> None:
        self.stop_flag.set()
        self.join(30)
        self.store.close()


class _SocketProducer(threading.Thread):
    def __init__(self, socket_path: Path, period_s: float, seed: int) -> None:
        super().__init__(daemon=True, name=type(self).__name__)
        self.socket_path = socket_path
        self.period_s = period_s
        self.rng = random.Random(seed)
        self.stop_flag = threading.Event()
        self.sent = 0
        self.errors = 0
        self._client: Any = None

    def _make_client(self) -> Any:
        raise NotImplementedError

    def _act(self, client: Any) -> None:
        raise NotImplementedError

    def run(self) -> None:
        while not self.stop_flag.is_set():
            try:
                if self._client is None:
                    if not self.socket_path.exists():
                        self.stop_flag.wait(0.05)
                        continue
                    self._client = self._make_client()
                self._act(self._client)
                self.sent += 1
            except (OSError, ConnectionError, RuntimeError, ValueError):
                self.errors += 1
                if self._client is not None:
                    self._client.close()
                self._client = None
                self.stop_flag.wait(0.05)
                continue
            self.stop_flag.wait(self.period_s * self.rng.uniform(0.5, 1.5))
        if self._client is not None:
            self._client.close()

    def stop(self) -> None:
        self.stop_flag.set()
        self.join(30)


class PanelPresser(_SocketProducer):
    def __init__(self, socket_path: Path, buttons: list[str], period_s: float = 0.3, seed: int = 2) -> None:
        super().__init__(socket_path, period_s, seed)
        self.buttons = buttons

    def _make_client(self) -> Any:
        from drivers.gpio.sim import GpioControlClient

        return GpioControlClient(self.socket_path, timeout_s=3.0)

    def _act(self, client: Any) -> None:
        client.click(self.rng.choice(self.buttons))


class GuardTapper(_SocketProducer):
    def __init__(self, socket_path: Path, card_uid: str, period_s: float = 0.6, seed: int = 3,
                 hold_s: float = 0.35) -> None:
        super().__init__(socket_path, period_s, seed)
        self.card_uid = card_uid
        self.hold_s = hold_s

    def _make_client(self) -> Any:
        from drivers.nfc.sim.pn532_control import ControlClient

        return ControlClient(self.socket_path, timeout_s=3.0)

    def _act(self, client: Any) -> None:
        client.present(self.card_uid, "classic_1k")
        time.sleep(self.hold_s)
        client.remove()


# The id each acknowledged lobby action carries in its event, and where the store keeps it.
LOBBY_EVENT_ID_KEY = {"visitor.checked_in": "visit_id", "ticket.created": "ticket_no", "feedback.press": "press_id"}


def lobby_ids_in_store(store: Any) -> dict[str, set[str]]:
    """Per event type, the ids of the lobby records the store holds (purged or not)."""
    return {
        "visitor.checked_in": {r["id"] for r in store.query("SELECT id FROM visits")},
        "ticket.created": {r["ticket_no"] for r in store.query("SELECT ticket_no FROM tickets")},
        "feedback.press": {r["id"] for r in store.query("SELECT id FROM feedback")},
    }


def delivered_lobby_ids(central: Any) -> set[tuple[str, str]]:
    """(event type, id) of every event central received."""
    with central.lock:
        return {(e["type"], e["data"].get(LOBBY_EVENT_ID_KEY.get(e["type"], ""), "")) for e in central.events}
