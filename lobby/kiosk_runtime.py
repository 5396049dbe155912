"""Everything the kiosk runs on except the screen: store, services, printer, readers, patrol.

Plain Python (no Kivy), built once per process by `lobby kiosk`:

    rt = KioskRuntime(cfg, simulate=True)
    rt.start_readers(on_tap)        # on_tap(TagEvent) on each reader's own thread
    rt.router.route(uid, reader_id) # on a worker thread: patrol / staff / link / checkout / unknown
    rt.stop()

The kiosk writes records and outbox rows into the shared store; the gateway's
bridge sends them. The kiosk never talks MQTT itself.

Liveness, for central: every HEARTBEAT_S the app writes a small heartbeat into the
store's meta (`kiosk.heartbeat`: its screen, whether a frame was ever drawn, the
last touch, the build and config version); the gateway's health report reads it, so
a dead or blank kiosk is seen from afar. Config changes: the app asks
`config_changed()` every few seconds and, once nobody is using the screen,
restarts itself on the new file (lobby.toml replaced by central's config.update, a
revert, or a person on site).
"""

from __future__ import annotations

import json
import logging
import os
import time
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drivers.health import DeviceHealth, HealthState
from drivers.sim.paths import printer_stream, sim_dir
from lobby.dashboard import StaffDashboard
from lobby.taps import CardRouter
from lobby.services.pin import PinGate
from lobby.services import LobbyServices
from lobby.services.clock import Clock
from mqtt_bridge.alerts import AlertEngine
from lobby.cardhash import load_key
from lobby.config import Config, ConfigError, state_path
from lobby.config.readonly import load_read_only
from mqtt_bridge.store import Store, StoreError
from mqtt_bridge.timebase import rfc3339, utc_now
from lobby.liveness import HEARTBEAT_META, heartbeat

log = logging.getLogger(__name__)



def _stamp(path: Path | None) -> tuple[int, int, int] | None:
    """What identifies one version of a file on disk (an atomic replace changes the inode)."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def build_printer(cfg: Config, simulate: bool) -> Any:
    """The badge printer from [printer] (a file simulator with --simulate), or None."""
    p = cfg.printer
    if p.kind == "none":
        return None
    try:
        from drivers.printer import BadgePrinter, FontSet, Renderer, make_connection

        if p.kind == "file":
            conn = make_connection("sim", path=state_path(cfg, p.path or "printer.bin"))
        elif simulate:
            conn = make_connection("sim", path=printer_stream(sim_dir(cfg.state_dir)))
        elif p.kind == "serial":
            conn = make_connection("serial", devfile=p.path, baudrate=p.baudrate, timeout=1.0)
        elif p.kind == "network":
            conn = make_connection("network", host=p.host, port=p.port)
        else:
            conn = make_connection("usb", vendor_id=p.usb_vendor, product_id=p.usb_product or 0)
        renderer = Renderer(FontSet(cfg.kiosk.font_path), width_px=p.paper_width_px)
        return BadgePrinter(conn, printer_id="badge-printer", renderer=renderer, paper_width_px=p.paper_width_px,
                            tz=zoneinfo.ZoneInfo(cfg.site.timezone))
    except Exception as exc:  # a missing printer library or font must not stop the kiosk
        log.error("badge printer not available: %s: %s", type(exc).__name__, exc)
        return None


def build_patrol(cfg: Config, store: Store, alerts: AlertEngine, card_key: bytes) -> Any:
    try:
        from lobby.patrol import PatrolEngine

        return PatrolEngine(cfg, store, alerts, card_key=card_key)
    except Exception as exc:  # patrol not configured or its module unavailable: taps skip step 1
        log.warning("patrol engine not available at the kiosk: %s", type(exc).__name__)
        return None


class KioskRuntime:
    def __init__(self, cfg: Config, config_path: Path | None = None, *, simulate: bool = False,
                 clock: Clock | None = None) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.simulate = simulate
        self.store = Store(state_path(cfg, cfg.store.path), cfg.store.busy_timeout_ms)
        self.alerts = AlertEngine(self.store)
        self.card_key = load_key(cfg.state_dir)
        self._sync_cards()
        self.printer = build_printer(cfg, simulate)
        self.services = LobbyServices(self.store, cfg, card_key=self.card_key, clock=clock, printer=self.printer,
                                      alerts=self.alerts)
        self.patrol = build_patrol(cfg, self.store, self.alerts, self.card_key)
        self.router = CardRouter(self.services, self.patrol)
        self.dashboard = StaffDashboard(self.services, self.alerts, self.patrol, self.own_devices)
        sec = cfg.security
        self.pin = PinGate(sec.staff_pin_hash, sec.pin_max_attempts, sec.pin_lockout_min)
        self.readers: list[Any] = []
        self.sim: Any = None
        self.started_ts = rfc3339(utc_now())
        self.started_mono_s = time.monotonic()
        self._config_stamp = _stamp(config_path)
        self._config_refused: tuple[int, int, int] | None = None
        self._config_seen: tuple[tuple[int, int, int], int] | None = None  # (stamp, version) of a valid change

    def _sync_cards(self) -> None:
        """The config's staff-card allowlist into the cards table (the gateway does the same at start)."""
        try:
            from lobby.cardhash import sync_config_cards

            sync_config_cards(self.store, self.cfg, self.card_key)
        except StoreError as exc:
            log.warning("staff cards from the config not synchronised: %s", type(exc).__name__)

    # ------------------------------------------------------------------ readers

    def kiosk_readers(self) -> list[Any]:
        return [r for r in self.cfg.readers if r.host == "kiosk"]

    def start_readers(self, on_event: Callable[[Any], None]) -> None:
        """Start the kiosk's readers; with --simulate every one of them is a PN532 simulator (a child
        process, see drivers.nfc.sim.launch) read by the real libnfc driver."""
        from drivers.nfc.factory import make_reader

        simulated: dict[str, str] = {}
        if self.simulate:
            from drivers.nfc.sim.launch import SimulatedReaders

            self.sim = SimulatedReaders(sim_dir(self.cfg.state_dir), [r.id for r in self.kiosk_readers()])
            simulated = self.sim.start()
        for r in self.kiosk_readers():
            try:
                if r.id in simulated:
                    reader = make_reader(r.id, "libnfc", connstring=simulated[r.id], retap_window_s=r.retap_window_s)
                else:
                    reader = make_reader(r.id, r.kind, connstring=r.connstring, device=r.device,
                                         retap_window_s=r.retap_window_s)
                reader.start(on_event)
                self.readers.append(reader)
            except Exception as exc:  # one broken reader must not stop the screen
                log.error("reader %s not started: %s: %s", r.id, type(exc).__name__, exc)

    # ------------------------------------------------------------------ health for the staff screen

    def own_devices(self) -> list[DeviceHealth]:
        out = [reader.health for reader in self.readers]
        started = {reader.reader_id for reader in self.readers}
        for r in self.kiosk_readers():
            if r.id not in started:
                out.append(DeviceHealth(r.id, HealthState.LOST, "not started"))
        if self.printer is not None:
            out.append(self.printer.health)
        return out

    def report_devices(self) -> None:
        """Write this kiosk's readers and printer for the gateway's facility KPI (called every minute)."""
        from mqtt_bridge.timebase import utc_now

        try:
            self.store.set_meta("kiosk.devices", json.dumps({
                "ts": utc_now().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "devices": [{"device_id": d.device_id, "state": d.state.value, "reason": d.reason}
                            for d in self.own_devices()]}))
        except Exception as exc:  # a busy store must not disturb the screen
            log.warning("kiosk device health not written: %s", type(exc).__name__)

    # ------------------------------------------------------------------ liveness and config changes

    def write_heartbeat(self, screen: str, shown: bool, last_touch_ts: str | None) -> None:
        """The kiosk is alive (called every HEARTBEAT_S on a worker thread). Written without an fsync
        (synchronous=NORMAL for this one commit: WAL keeps it consistent, a power cut may lose only
        the last beat), so a beat every 10 s costs the SD card no flush of its own."""
        from mqtt_bridge.version import VERSION

        beat = heartbeat(started_ts=self.started_ts, started_mono_s=self.started_mono_s, screen=screen, shown=shown,
                         last_touch_ts=last_touch_ts, version=VERSION, config_version=self.cfg.version)
        conn = self.store.connection()
        try:
            conn.execute("PRAGMA synchronous = NORMAL")
            self.store.set_meta(HEARTBEAT_META, beat)
        except Exception as exc:  # a busy or stalled store must not disturb the screen
            log.debug("kiosk heartbeat not written: %s", type(exc).__name__)
        finally:
            try:
                conn.execute("PRAGMA synchronous = FULL")
            except Exception:  # the next write's own connection setup is FULL anyway
                pass

    def config_changed(self) -> int | None:
        """The version of a changed, valid config file that differs from the one in force, else None.

        A file that does not validate is reported once and ignored (the kiosk keeps running on
        what it has); the gateway refuses it too. The file is validated in a child process, so
        pydantic never loads into the kiosk (lobby/config/readonly.py): call this off the UI
        thread. Each version of the file is validated once."""
        stamp = _stamp(self.config_path)
        if stamp is None or stamp == self._config_stamp or stamp == self._config_refused:
            return None
        if self._config_seen is not None and self._config_seen[0] == stamp:
            return self._config_seen[1]
        assert self.config_path is not None
        try:
            new = load_read_only(self.config_path)
        except ConfigError as exc:
            self._config_refused = stamp
            log.error("the changed configuration %s is not valid (%d problem(s)); the kiosk keeps version %s",
                      self.config_path, len(exc.problems), self.cfg.version)
            return None
        if new.model_dump() == self.cfg.model_dump():
            self._config_stamp = stamp  # the same content written again
            return None
        self._config_seen = (stamp, new.version)
        return new.version

    # ------------------------------------------------------------------ stopping

    def stop(self) -> None:
        for reader in self.readers:
            try:
                reader.stop()
            except Exception:  # stopping must go on
                log.exception("reader stop failed")
        self.readers.clear()
        if self.sim is not None:
            self.sim.stop()
            self.sim = None
        if self.printer is not None:
            try:
                self.printer.close()
            except Exception:
                pass
        self.store.close()
