"""Complaint/help buttons and physical feedback panels on GPIO.

A press of a ticket button becomes a ticket (critical lane) with the button's
place, meaning and the SLA deadlines from the config, written with a
`button.pressed` event in one transaction. Presses within the repeat window
attach to the same open ticket instead of opening new ones. The button's LED
blinks until central acknowledges the ticket (any `ticket.update` that moves it
past "received"), then shows steady for `ack_steady_s`. A stuck button raises a
device alert instead of flooding tickets. Feedback buttons (four faces) go
through the same misuse rules as the touchscreen's faces.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from drivers.gpio import Buzzer, ButtonEvent, PanelButton, StatusLed
from drivers.health import DeviceHealth, HealthState

from mqtt_bridge.alerts import AlertEngine, Severity
from lobby.config import Config
from lobby.config.model import ButtonConfig
from mqtt_bridge.store import Store, StoreError

log = logging.getLogger(__name__)

OPEN_STATUSES = ("received", "assigned", "on_site")


def stuck_key(button_id: str) -> str:
    return f"button.stuck:{button_id}"


@dataclass
class _Panel:
    cfg: ButtonConfig
    button: PanelButton
    led: StatusLed | None


class ButtonService:
    """Owns the panel's gpiozero devices; `sync_leds()` is called every second by the scheduler."""

    name = "buttons"

    def __init__(self, cfg: Config, store: Store, alerts: AlertEngine, lobby: Any, pin_factory: Any) -> None:
        self.cfg = cfg
        self.store = store
        self.alerts = alerts
        self.lobby = lobby  # lobby.services.LobbyServices: tickets and feedback
        self.factory = pin_factory
        self.panels: dict[str, _Panel] = {}
        self.buzzer: Buzzer | None = None
        self._led_shown: dict[str, str] = {}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        for bcfg in self.cfg.buttons:
            hold_s = min(2.0, bcfg.stuck_after_s / 2)
            button = PanelButton(bcfg.id, bcfg.pin, bounce_time=bcfg.bounce_ms / 1000, hold_time=hold_s,
                                 stuck_time=bcfg.stuck_after_s, pin_factory=self.factory)
            led = None
            if bcfg.led_pin is not None:
                led = StatusLed(f"{bcfg.id}-led", bcfg.led_pin, pin_factory=self.factory)
            button.when_pressed = self._on_press
            button.subscribe_health(self._on_health)
            self.panels[bcfg.id] = _Panel(bcfg, button, led)
        if self.cfg.gpio.buzzer_pin is not None:
            self.buzzer = Buzzer("buzzer", self.cfg.gpio.buzzer_pin, pin_factory=self.factory)
        self.sync_leds()

    def stop(self) -> None:
        for panel in self.panels.values():
            panel.button.close()
            if panel.led is not None:
                panel.led.close()
        if self.buzzer is not None:
            self.buzzer.close()

    def device_health(self) -> list[DeviceHealth]:
        return [panel.button.health for panel in self.panels.values()]

    # ------------------------------------------------------------------ presses

    def _on_press(self, event: ButtonEvent) -> None:
        panel = self.panels.get(event.button_id)
        if panel is None:
            return
        try:
            with self.store.connection_released_after():  # each button's thread: presses are minutes apart
                if panel.cfg.role == "feedback":
                    self._feedback(panel)
                else:
                    self._ticket(panel)
        except StoreError as exc:  # disk full or locked: the press is refused audibly, never silently lost
            log.error("button %s: press not recorded: %s", panel.cfg.id, exc)
            self._beep("rejected")
            return
        self._beep("accepted")

    def _ticket(self, panel: _Panel) -> str:
        bcfg = panel.cfg
        tickets = self.lobby.tickets
        now = self.lobby.ctx.now()
        window = dt.timedelta(seconds=bcfg.repeat_window_s)
        with self.store.transaction() as tx:
            open_row = tx.execute(
                "SELECT b.ticket_no, b.presses FROM button_tickets b JOIN tickets t ON t.ticket_no = b.ticket_no "
                f"WHERE b.button_id = ? AND t.status IN ({','.join('?' * len(OPEN_STATUSES))}) "
                "AND b.last_press_ts >= ? ORDER BY b.last_press_ts DESC LIMIT 1",
                (bcfg.id, *OPEN_STATUSES, _ts(now.wall - window))).fetchone()
            if open_row is not None:
                number, presses = open_row[0], open_row[1] + 1
                tx.execute("UPDATE button_tickets SET presses = ?, last_press_ts = ? WHERE button_id = ? AND ticket_no = ?",
                           (presses, now.ts, bcfg.id, number))
                repeat = True
            else:
                values = {
                    "kind": bcfg.ticket_kind, "category": bcfg.category,
                    "building": self.cfg.places.buildings[0] if self.cfg.places.buildings else "",
                    "floor": "", "area": bcfg.place, "description": f"{bcfg.meaning} ({bcfg.place})",
                    "urgent": bcfg.urgent and bcfg.ticket_kind in ("repair", "incident"),
                    "equipment_fault": bcfg.ticket_kind == "repair"
                    and bcfg.category in self.cfg.tickets.equipment_categories,
                    "contact_name": None, "contact_phone": None,
                }
                number = tickets.create_tx(tx, values, bcfg.id, now)
                presses, repeat = 1, False
                tx.execute("INSERT INTO button_tickets (button_id, ticket_no, opened_ts, last_press_ts, presses) "
                           "VALUES (?, ?, ?, ?, 1)", (bcfg.id, number, now.ts, now.ts))
            tx.emit("button", "button.pressed", {
                "button_id": bcfg.id, "place": bcfg.place, "meaning": bcfg.meaning, "role": "ticket",
                "ticket_no": number, "repeat": repeat, "presses": presses, "pressed_at": now.ts})
        log.info("button %s: %s ticket %s (press %d)", bcfg.id, "joined" if repeat else "opened", number, presses)
        self._show(panel, "pending")
        return number

    def _feedback(self, panel: _Panel) -> None:
        bcfg = panel.cfg
        assert bcfg.face is not None
        outcome = self.lobby.feedback.press(bcfg.face, place=bcfg.place, source=bcfg.id)
        if not outcome.ok:
            raise StoreError(outcome.message.en if outcome.message else "feedback not recorded")
        flagged = bool(outcome.value and outcome.value.flagged)
        self.store.emit("button", "button.pressed", {
            "button_id": bcfg.id, "place": bcfg.place, "meaning": bcfg.meaning, "role": "feedback",
            "face": bcfg.face, "flagged": flagged, "repeat": False, "presses": 1,
            "pressed_at": self.lobby.ctx.now().ts, "ticket_no": None})

    # ------------------------------------------------------------------ health and LEDs

    def _on_health(self, health: DeviceHealth) -> None:
        key = stuck_key(health.device_id)
        try:
            with self.store.connection_released_after():
                if health.state is not HealthState.OK and "stuck" in health.reason:
                    self.alerts.raise_alert(key, Severity.WARNING, "按钮卡住 Button stuck",
                                            {"button_id": health.device_id, "reason": health.reason})
                elif health.state is HealthState.OK:
                    self.alerts.clear(key)
        except StoreError as exc:
            log.error("button %s: stuck alert not recorded: %s", health.device_id, exc)

    def sync_leds(self) -> None:
        """Blink while a button's ticket waits for central; steady once acknowledged."""
        rows = self.store.query(
            "SELECT b.button_id, b.ticket_no, b.led_state, t.status FROM button_tickets b "
            "JOIN tickets t ON t.ticket_no = b.ticket_no WHERE b.led_state != 'closed'")
        pending: set[str] = set()
        for row in rows:
            panel = self.panels.get(row["button_id"])
            if row["status"] == "received":
                pending.add(row["button_id"])
                continue
            new_state = "acknowledged" if row["status"] in OPEN_STATUSES else "closed"
            if row["led_state"] == "pending":
                now = self.lobby.ctx.now().ts
                with self.store.transaction() as tx:
                    tx.execute("UPDATE button_tickets SET led_state = ?, acked_ts = ? WHERE button_id = ? "
                               "AND ticket_no = ?", (new_state, now, row["button_id"], row["ticket_no"]))
                if panel is not None and row["button_id"] not in pending:
                    self._show(panel, "acknowledged", for_s=panel.cfg.ack_steady_s)
            elif new_state == "closed":
                with self.store.transaction() as tx:
                    tx.execute("UPDATE button_tickets SET led_state = 'closed' WHERE button_id = ? AND ticket_no = ?",
                               (row["button_id"], row["ticket_no"]))
        for button_id in pending:
            panel = self.panels.get(button_id)
            if panel is not None and self._led_shown.get(button_id) != "pending":
                self._show(panel, "pending")

    def _show(self, panel: _Panel, pattern: str, for_s: float | None = None) -> None:
        self._led_shown[panel.cfg.id] = pattern
        if panel.led is not None:
            panel.led.show(pattern, for_s=for_s)

    def _beep(self, pattern: str) -> None:
        if self.buzzer is not None:
            self.buzzer.play(pattern)


def _ts(moment: dt.datetime) -> str:
    from mqtt_bridge.timebase import rfc3339

    return rfc3339(moment)
