"""The on-screen simulator panel (`lobby kiosk --simulate` only; never in production).

A drawer in a strip of its own at the right edge of the window, beside the app, never
over it: the app lays itself out in the rest of the window (kiosk/app.py puts both in one
horizontal box), so no product control (the keyboard's Done key, a screen's corner) can
be under the panel. Closed, the strip is a thin "SIM" handle; open, it widens into a
column of buttons (and the app's area narrows) that present simulated cards on the
kiosk's PN532 simulator (through its control socket, so the real LibnfcReader reads them)
and press the gateway's mock GPIO buttons (through `<state_dir>/sim/gpio.sock` when the
gateway runs with --simulate).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kivy.graphics import Color, Rectangle
from kivy.properties import BooleanProperty
from kivy.uix.anchorlayout import AnchorLayout
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.scrollview import ScrollView

from drivers.sim.paths import gpio_socket, reader_socket, sim_dir

from kiosk.widgets import KButton

log = logging.getLogger(__name__)

PASS_CARDS = ("04A0B0C0D0E001", "04A0B0C0D0E002", "04A0B0C0D0E003")
UNKNOWN_CARD = "DEADBEEF"
TAP_HOLD_S = 0.6


def sim_cards(cfg: Any) -> list[tuple[str, str, str]]:
    """(label, uid, tid) of every card worth presenting."""
    out = [(f"员工卡 Staff {uid[-4:]}", uid, f"sim_staff_{i}") for i, uid in enumerate(cfg.kiosk.staff_cards)]
    out += [(f"保安卡 Guard {g.id}", g.card_uid, f"sim_guard_{i}") for i, g in enumerate(cfg.patrol.guards)]
    out += [(f"巡更点 Tag {c.id}", c.tag_uid, f"sim_tag_{i}") for i, c in enumerate(cfg.patrol.checkpoints)
            if c.tag_uid]
    out += [(f"访客卡 Pass card {i + 1}", uid, f"sim_pass_{i}") for i, uid in enumerate(PASS_CARDS)]
    out.append(("未知卡 Unknown card", UNKNOWN_CARD, "sim_unknown"))
    return out


def present(cfg: Any, reader_id: str, uid: str, hold_s: float = TAP_HOLD_S) -> None:
    """Put a card on the simulated reader for a moment (a tap). Runs on a worker thread."""
    from drivers.nfc.sim.pn532_control import ControlClient

    with ControlClient(reader_socket(sim_dir(cfg.state_dir), reader_id), timeout_s=3.0) as client:
        client.present(uid, "ntag215" if len(uid) == 14 else "classic_1k")
        time.sleep(hold_s)
        client.remove()


def click_gpio(cfg: Any, button_id: str) -> None:
    from drivers.gpio.sim import GpioControlClient

    with GpioControlClient(gpio_socket(sim_dir(cfg.state_dir)), timeout_s=3.0) as client:
        client.click(button_id)


HANDLE_W = 0.55  # of app.tap: the closed strip (a thin handle)
DRAWER_W = 3.4  # of app.tap: the open drawer's column


class SimPanel(BoxLayout):
    """The strip at the window's right edge: a handle, and the drawer's column when open."""

    open = BooleanProperty(False)
    tid = "sim_panel"  # the probe reports the strip's rectangle (tests: nothing of the product under it)

    def __init__(self, app: Any, **kw: Any) -> None:
        super().__init__(orientation="horizontal", size_hint_x=None, **kw)
        self.app = app
        self.cfg = app.cfg
        with self.canvas.before:
            Color(0.22, 0.24, 0.28, 1)
            self._bg = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._paint, size=self._paint)
        self.handle_box = AnchorLayout(anchor_x="center", anchor_y="center", size_hint_x=None)
        self.toggle = KButton(zh="SIM", only=True, style="secondary", tid="sim_toggle", size_hint=(1, None),
                              font_size=app.fs_small)
        self.toggle.bind(on_release=lambda *_: self.set_open(not self.open))
        self.handle_box.add_widget(self.toggle)
        self.add_widget(self.handle_box)
        self.scroll = ScrollView(do_scroll_x=False)
        self.column = BoxLayout(orientation="vertical", size_hint_y=None, spacing=4, padding=4)
        self.column.bind(minimum_height=self.column.setter("height"))
        self.scroll.add_widget(self.column)
        readers = [r.id for r in self.cfg.readers if r.host == "kiosk"]
        self.reader_id = readers[0] if readers else None
        for button in self.cfg.buttons:
            b = KButton(zh=f"按钮 Button {button.id}", only=True, style="secondary", tid=f"sim_gpio_{button.id}",
                        size_hint_y=None, height=app.tap * 0.8, font_size=app.fs_small)
            b.bind(on_release=lambda _b, bid=button.id: self.gpio(bid))
            self.column.add_widget(b)
        for label, uid, tid in sim_cards(self.cfg):
            b = KButton(zh=label, only=True, style="key", tid=tid, size_hint_y=None, height=app.tap * 0.8,
                        font_size=app.fs_small)
            b.bind(on_release=lambda _b, u=uid: self.tap(u))
            self.column.add_widget(b)
        app.bind(tap=self._resize)
        self._resize()

    def _paint(self, *_: Any) -> None:
        self._bg.pos, self._bg.size = self.pos, self.size

    def _resize(self, *_: Any) -> None:
        tap = self.app.tap
        self.handle_box.width = tap * HANDLE_W
        self.toggle.height = tap * 2
        self.width = tap * (HANDLE_W + (DRAWER_W if self.open else 0))

    def set_open(self, value: bool) -> None:
        self.open = value
        if value and self.scroll.parent is None:
            self.add_widget(self.scroll)
        elif not value and self.scroll.parent is not None:
            self.remove_widget(self.scroll)
        self._resize()

    def tap(self, uid: str) -> None:
        if self.reader_id is None:
            return
        self.app.worker.run(present, self.cfg, self.reader_id, uid, keep=True,
                            error=lambda exc: log.warning("simulated tap failed: %s", type(exc).__name__))

    def gpio(self, button_id: str) -> None:
        self.app.worker.run(click_gpio, self.cfg, button_id, keep=True,
                            error=lambda exc: log.warning("simulated button press failed (is the gateway running "
                                                          "with --simulate?): %s", type(exc).__name__))
