"""The lobby kiosk (Kivy): screens over lobby.services, card taps, idle wipe, lockdown.

Structure:
- `KioskRuntime` (lobby/kiosk_runtime.py): store, LobbyServices, printer, readers, patrol, PIN gate.
- `KioskApp` (here): one ScreenManager; screens are created on first visit, reused within a
  flow and let go when home is shown (kiosk/navigation.py)
  (kiosk/screens/*, each a thin view over the services with a .kv beside it); overlays
  above it (card-tap confirmation, apology, screen saver, night dimming, simulator panel).
- Threading: the UI thread only draws. Store writes, printing and card routing run on a
  small worker pool (kiosk/worker.py) and come back with Clock.schedule_once. Reader
  callbacks arrive on each reader's own thread and are handed to that pool at once.
- Lockdown: Escape, F1 (settings) and the window close request are ignored unless the
  kiosk runs windowed for development; an uncaught exception in a callback shows an
  apology with "try again" (never a traceback) and is logged without personal data.
- Idle: after kiosk.idle_timeout_s without a touch every flow is wiped (drafts scrubbed,
  text fields cleared) and the home screen returns; a screen saver after
  kiosk.screensaver_after_s; dimmed between kiosk.dim_from and kiosk.dim_to.
- Liveness: a heartbeat in the store every 10 s (screen, drawn, last touch) for the gateway's
  health report; a changed lobby.toml restarts the app once the screen is idle (kiosk/liveness.py).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from kivy.app import App
from kivy.base import ExceptionHandler, ExceptionManager
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager

from kiosk import i18n
from kiosk.flows import Drafts
from kiosk.fonts import register_default_font
from lobby.kiosk_runtime import KioskRuntime
from kiosk.crash import log_without_data
from kiosk.evacuation import EvacuationMixin
from kiosk.idle import IdleMixin
from kiosk.liveness import LivenessMixin
from kiosk.lockdown import LockdownMixin
from kiosk.navigation import NavigationMixin
from kiosk.tapping import TapsMixin
from kiosk.widgets import bilingual, load_kv
from kiosk.worker import Worker

log = logging.getLogger(__name__)

CRASH_LIMIT = 5  # uncaught errors within CRASH_WINDOW_S: let the process end (systemd restarts it)
CRASH_WINDOW_S = 10.0


class _Apology(ExceptionHandler):
    def __init__(self, app: KioskApp) -> None:
        super().__init__()
        self.app = app

    def handle_exception(self, inst: BaseException) -> int:
        if isinstance(inst, (KeyboardInterrupt, SystemExit)):
            return ExceptionManager.RAISE
        return ExceptionManager.PASS if self.app.on_crash(inst) else ExceptionManager.RAISE


class KioskApp(NavigationMixin, IdleMixin, LockdownMixin, TapsMixin, EvacuationMixin, LivenessMixin, App):
    title = "Lobby kiosk"
    use_kivy_settings = False

    lang = StringProperty("zh")
    u = NumericProperty(1.0)
    tap = NumericProperty(60)
    pad = NumericProperty(10)
    fs = NumericProperty(20)
    fs_small = NumericProperty(15)
    fs_big = NumericProperty(28)
    fs_title = NumericProperty(24)
    fs_huge = NumericProperty(46)
    fs_second = NumericProperty(14)  # the second language is never smaller than this (14 px at 800x480)
    portrait = BooleanProperty(False)
    c_brand = ListProperty([0.05, 0.33, 0.64, 1])  # kiosk.brand_color (kiosk/theme.py): buttons
    c_brand_down = ListProperty([0.03, 0.22, 0.45, 1])
    c_brand_dark = ListProperty([0.06, 0.18, 0.35, 1])  # the header band
    logo = StringProperty("")  # kiosk.logo when it can be read
    icon_font = StringProperty("")  # kiosk/icons: Material Symbols, the glyphs the kiosk uses
    clock_text = StringProperty("")
    date_text = StringProperty("")
    evac_visible = BooleanProperty(False)
    evac_drill = BooleanProperty(False)
    dimmed = BooleanProperty(False)

    def __init__(self, runtime: KioskRuntime, *, simulate: bool = False, allow_close: bool = False,
                 test_map: str | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.rt = runtime
        self.cfg = runtime.cfg
        self.services = runtime.services
        self.simulate = simulate
        self.allow_close = allow_close
        self.test_map = test_map
        self.default_lang = i18n.lang_of(self.cfg.site.language)
        self.lang = self.default_lang
        from kiosk import theme
        from kiosk.icons import FONT

        theme.apply(self, self.cfg)
        self.icon_font = str(FONT)
        self.drafts = Drafts()
        self.worker = Worker(threads=2)
        self.factories: dict[str, Callable[[], Any]] = {}
        self.history: list[str] = []
        self.last_activity = time.monotonic()
        self.guard_until = 0.0  # touches beginning before this (monotonic) are ignored: a screen just changed
        self.staff_id: str | None = None
        self.link_visit_id: str | None = None  # the check-in pass screen waits for a card to link
        self.overlay: Any = None
        self._message_overlay: Any = None
        self._idle_warning: Any = None
        self.saver: Any = None
        self.probe: Any = None
        self.release_pending = False  # screens dropped at home are collected after it is drawn (navigation)
        self.font_file = ""
        self.wipes = 0
        self._crashes: list[float] = []
        self._evac_id: str | None = None
        self._printed_roll: str | None = None
        self._scan_buffer = ""
        self._ready = False
        self.tap_log: list[dict[str, Any]] = []

    # ================================================================== building

    def build(self) -> Any:
        self.font_file = register_default_font(self.cfg.kiosk.font_path)
        load_kv()
        from kiosk import screens
        from kiosk.widgets import SharedKeyboard

        self.keyboard = SharedKeyboard(self)

        screens.load_all_kv()
        Window.clearcolor = (0.95, 0.96, 0.97, 1)
        ExceptionManager.add_handler(_Apology(self))
        Window.bind(size=self._on_window_size, on_touch_down=self._on_any_touch, on_key_down=self._on_key_down,
                    on_textinput=self._on_textinput, on_request_close=self._on_request_close,
                    on_keyboard=self._on_keyboard)
        self._on_window_size(Window, Window.size)

        from kiosk.screens.overlays import DimLayer, EvacBanner

        self.root_layout = FloatLayout()
        main = BoxLayout(orientation="vertical")
        self.evac_banner = EvacBanner()
        main.add_widget(self.evac_banner)
        self.sm = ScreenManager(transition=NoTransition())
        main.add_widget(self.sm)
        self.root_layout.add_widget(main)
        self.overlay_layer = FloatLayout()
        self.root_layout.add_widget(self.overlay_layer)
        self.dim_layer = DimLayer()
        self.root_layout.add_widget(self.dim_layer)
        screens.register_all(self)
        if self.simulate and os.environ.get("LOBBY_KIOSK_SIM_PANEL", "1") != "0":
            from kiosk.testing.simpanel import SimPanel

            # beside the app, not over it: the app lays itself out in what the panel's strip leaves
            self.sim_panel = SimPanel(self)
            window = BoxLayout(orientation="horizontal")
            window.add_widget(self.root_layout)
            window.add_widget(self.sim_panel)
            self.show("home", push=False)
            return window
        self.show("home", push=False)
        return self.root_layout

    def on_start(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: Clock.schedule_once(lambda dt: self.stop(), 0))
        self.rt.start_readers(self._on_tag)
        Clock.schedule_interval(self._tick_clock, 1.0)
        Clock.schedule_interval(self._check_idle, 0.5)
        Clock.schedule_interval(lambda dt: self._poll_evacuation(), 2.0)
        Clock.schedule_interval(lambda dt: self._check_dim(), 20.0)
        Clock.schedule_interval(lambda dt: self.worker.run(self.rt.report_devices), 60.0)  # facility KPI
        self._start_liveness()  # heartbeat for the gateway; restart on a changed lobby.toml (kiosk/liveness.py)
        self._tick_clock(0)
        self._poll_evacuation()
        self._check_dim()
        if self.test_map:
            from kiosk.testing.probe import TestProbe

            self.probe = TestProbe(self, self.test_map)
        Window.bind(on_flip=self._first_frame)

    def _first_frame(self, *_: Any) -> None:
        if self._ready:
            return
        self._ready = True
        Window.unbind(on_flip=self._first_frame)
        from lobby import sdnotify

        sdnotify.notify("READY=1")
        self.event("ready")
        log.info("kiosk ready (%dx%d)", *Window.size)
        self._warm_up()

    def _warm_up(self) -> None:
        """After the home screen is up: load the pinyin index and build the keyboard, so that the
        first visitor who types does not wait for them.

        The screens themselves are built on their first visit (5-25 ms each, measured) rather than
        all at start: a screen nobody visits (the staff screen, the invitation and permit steps)
        then costs no memory (about 10 MB for those the benchmark's flows never reach), and home
        lets go of them again. What start-up built is then frozen out of the collector (lobby/heap.py)."""
        from kiosk.ime.pinyin import get_engine

        self.worker.run(get_engine, keep=True)
        Clock.schedule_once(lambda dt: self._warm_keyboard(), 0)

    def _warm_keyboard(self) -> None:
        """Build the keyboard's layouts and the candidate bar once (off screen), then forget the typing."""
        from kivy.uix.boxlayout import BoxLayout

        from kiosk.ime.keyboard import TextEntry

        from lobby import heap

        if self.keyboard.owner is not None:  # a visitor is already typing: leave the keyboard alone
            heap.freeze_startup()
            self.event("warm")
            return
        holder = BoxLayout()
        entry = TextEntry(kind="text", max_length=10)
        self.keyboard.attach(self, holder, entry)
        steps = [lambda: [entry.press(c) for c in "zhang"], lambda: entry.choose(0), lambda: entry.toggle(),
                 lambda: entry.toggle(), lambda: entry.toggle(), lambda: entry.clear()]

        def step(_dt: float) -> None:
            if steps and self.keyboard.owner is self:
                steps.pop(0)()
                Clock.schedule_once(step, 0)
                return
            self.keyboard.detach(self)
            from kiosk.ime.pinyin import get_engine

            get_engine().clear_cache()
            heap.freeze_startup()
            self.event("warm")

        Clock.schedule_once(step, 0)

    def on_stop(self) -> None:
        try:
            self.worker.shutdown()
            self.rt.stop()
        except Exception:  # stopping must not hang or show anything
            log.exception("kiosk stop")

    def open_settings(self, *largs: Any) -> bool:  # F1 must not open Kivy's settings panel
        return False

    # ================================================================== sizes, language

    def _on_window_size(self, _win: Any, size: tuple[int, int]) -> None:
        w, h = size
        self.portrait = h > w
        self.u = max(0.6, min(w, h) / 480.0)
        from kivy.metrics import mm

        self.tap = max(60.0 * self.u, float(mm(15)))
        self.pad = 10 * self.u
        self.fs = 20 * self.u
        self.fs_small = 15 * self.u
        self.fs_big = 28 * self.u
        self.fs_title = 24 * self.u
        self.fs_huge = 46 * self.u
        self.fs_second = 14 * self.u

    def t(self, key: str, lang: str, **fmt: Any) -> str:
        return i18n.primary(key, lang, **fmt)

    def t2(self, key: str, lang: str, **fmt: Any) -> str:
        return i18n.secondary(key, lang, **fmt)

    def bi(self, key: str, zh: str, en: str, lang: str, small: float, only: bool = False,
           fmt: dict[str, Any] | None = None, icon: str = "", icon_size: float = 0, inline: bool = False) -> str:
        return bilingual(key, zh, en, lang, small, only, icon=icon, icon_size=icon_size, inline=inline, **(fmt or {}))

    def icon_markup(self, name: str, size: float = 0) -> str:
        from kiosk.icons import glyph

        return glyph(name, size)

    def step_position(self, screen: str) -> tuple[int, int]:
        """(this step, of how many) when the screen is a step of a flow, else (0, 0)."""
        for flow in getattr(self, "flows", {}).values():
            position = getattr(flow, "position", None)
            found = position(screen) if position is not None else None
            if found:
                return found
        return (0, 0)

    def toggle_lang(self) -> None:
        self.lang = "en" if self.lang == "zh" else "zh"

    # ================================================================== overlays

    def show_overlay(self, widget: Any) -> None:
        self.close_overlay()
        self.overlay = widget
        self.overlay_layer.add_widget(widget)
        self.guard_touches()

    def close_overlay(self, *_: Any) -> None:
        if self.overlay is not None:
            try:
                self.overlay.closing()
            except AttributeError:
                pass
            self.overlay_layer.remove_widget(self.overlay)
            self.overlay = None
            screen = self.sm.current_screen
            if screen is not None and hasattr(screen, "resume"):
                screen.resume()  # what the overlay said is read: the screen below takes its next action

    @property
    def overlay_name(self) -> str:
        if self.saver is not None:
            return "saver"
        return getattr(self.overlay, "tid", "") if self.overlay is not None else ""

    def say(self, message: Any, title_key: str = "", style: str = "info", seconds: float = 6.0,
            then: Callable[[], None] | None = None, tid: str = "notice", **more: Any) -> None:
        """A short full-screen message (zh/en) over the current screen (one reused overlay widget)."""
        from kiosk.screens.overlays import MessageOverlay

        if self._message_overlay is None:
            self._message_overlay = MessageOverlay()
        overlay = self._message_overlay
        if self.overlay is not overlay:
            self.show_overlay(overlay)
        else:
            overlay.closing()  # the message it showed is replaced: finish it first
        overlay.configure(message, title_key=title_key, style=style, seconds=seconds, then=then, tid=tid, **more)

    # ================================================================== errors

    def on_crash(self, exc: BaseException) -> bool:
        """An uncaught exception in a callback: log it without data, apologise, offer a retry."""
        log_without_data(exc)
        now = time.monotonic()
        self._crashes = [t for t in self._crashes if now - t < CRASH_WINDOW_S] + [now]
        if len(self._crashes) > CRASH_LIMIT:
            log.critical("the UI keeps failing; ending the process so that it is restarted")
            return False
        try:
            from kiosk.screens.overlays import ApologyOverlay

            self.wipe_all()
            self.lang = self.default_lang
            self.history.clear()
            self.sm.current = "home"
            self.show_overlay(ApologyOverlay())
            self.event("apology", error=type(exc).__name__)
        except Exception as inner:  # the apology itself failed: keep the loop alive anyway
            log_without_data(inner, "apology")
        return True

    # ================================================================== test hooks

    def event(self, name: str, **data: Any) -> None:
        if self.probe is not None:
            self.probe.event(name, **data)
