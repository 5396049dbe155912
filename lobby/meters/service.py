"""The gateway's meter service: poll every configured meter on its own interval.

Threads: one worker per ``[[buses]]`` entry (``meters-<bus-id>``; a line carries one
transaction at a time anyway) and one ``meters-daily`` thread for consumption.

A worker keeps each meter's schedule on the monotonic clock (due times keep their
phase; missed slots are skipped, not bunched), reads every meter that is due, one
after the other, and writes the whole poll cycle in one store transaction: the
``meter.reading`` events (BULK lane, ``outbox.append_events``), the last readings,
the accepted cumulative registers, the day edges for billing and the alert
changes. A dead meter costs the others at most its own timeout per attempt while
it is being given up on; after that the bus backs it off (``lost_retry_s``).

Time: schedules use the monotonic clock; what a reading *means* (site day, night,
season, rate per hour) uses ``clock()``, an injectable UTC wall clock.

For the gateway::

    service = MeterService(cfg, store, alerts)   # cfg from start_simulation() under --simulate
    service.start()                              # threads: meters-<bus-id> ..., meters-daily
    service.device_health()                      # [DeviceHealth] per bus (port) and per meter; never raises
    service.bus_counters()                       # {bus_id: {...}}; never raises
    service.stop(timeout=5.0)                    # -> False if a thread outlived the timeout

Consumption runs by itself every minute (``run_daily=True``); a host that prefers its own
scheduler passes ``run_daily=False`` and calls ``daily_job()`` as often (it is idempotent).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import zoneinfo
from collections.abc import Callable
from typing import Any

from drivers.health import DeviceHealth, HealthState
from drivers.meters.bus import TransactionTrace
from drivers.meters.reading import Reading
from lobby.config.model import Config, MeterConfig, SerialBusConfig
from lobby.meters.analysis import TITLES, MeterAnalyzer, RegisterState
from lobby.meters.consumption import BillingMeter, ConsumptionJob
from lobby.meters.lines import BusRunner, MeterState
from lobby.meters.recorder import CycleRecorder
from mqtt_bridge.alerts import AlertEngine
from mqtt_bridge.store import Store
from mqtt_bridge.store.stall import is_stall
from mqtt_bridge.timebase import parse_rfc3339, utc_now
from lobby.meters.points import billing_point, bindings, meter_kind
from lobby.meters.wiring import build_bus, device_spec, serial_settings

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
DAILY_CHECK_S = 60.0


class MeterService:
    """Poll the configured meters; see the module docstring. Public calls never raise into the host
    except construction with a broken store."""

    name = "meters"

    def __init__(self, cfg: Config, store: Store, alerts: AlertEngine, *, clock: Clock = utc_now,
                 trace: Callable[[str, TransactionTrace], None] | None = None, run_daily: bool = True,
                 **bus_options: Any) -> None:
        self.cfg = cfg
        self.store = store
        self.alerts = alerts
        self.clock = clock
        self.tz = zoneinfo.ZoneInfo(cfg.site.timezone)
        self.run_daily = run_daily
        self._stop = threading.Event()
        self._daily_thread: threading.Thread | None = None
        self._daily_lock = threading.Lock()
        self._started = False
        self.recorder = CycleRecorder(store, alerts)
        self.buses: dict[str, BusRunner] = {}
        self.meters: dict[str, MeterState] = {}

        registers, active, edge_days = self._restore()
        for bus_cfg in cfg.buses:
            meters_cfg = [m for m in cfg.meters if m.bus == bus_cfg.id]
            options = dict(bus_options)
            if trace is not None:
                options["trace"] = (lambda t, bus_id=bus_cfg.id: trace(bus_id, t))
            bus = build_bus(bus_cfg, meters_cfg, **options)
            runner = BusRunner(bus_cfg, bus, [])
            runner.down.active = f"meter.bus_down:{bus_cfg.id}" in active
            for meter_cfg in meters_cfg:
                meter = self._meter(meter_cfg, bus_cfg, registers.get(meter_cfg.id, {}), active,
                                    edge_days.get(meter_cfg.id))
                if meter.spec is not None:
                    bus.add(meter.spec)
                runner.meters.append(meter)
                self.meters[meter_cfg.id] = meter
            self.buses[bus_cfg.id] = runner
        billing = [BillingMeter(m.cfg, m.billing, next(b.unit for b in m.points if b.name == m.billing))
                   for m in self.meters.values() if m.billing is not None and m.spec is not None]
        self.consumption = ConsumptionJob(store, billing, self.tz)

    # --- construction --------------------------------------------------------------------------

    def _meter(self, meter_cfg: MeterConfig, bus_cfg: SerialBusConfig, registers: dict[str, RegisterState],
               active: set[str], edge_day: str | None) -> MeterState:
        try:
            points = bindings(meter_cfg)
            names = [b.name for b in points]
            billing = billing_point(meter_cfg, names)
            billing = billing if billing in names else None
            spec = device_spec(meter_cfg, bus_cfg, points)
        except Exception as exc:  # validated config should never get here; keep the other meters going
            log.error("%s: cannot be polled: %s", meter_cfg.id, exc)
            return MeterState(meter_cfg, [], meter_cfg.kind or "electricity", None, None, None, f"configuration: {exc}")
        analyzer = MeterAnalyzer(meter_cfg, points, billing, self.cfg.comfort, self.tz, registers, active, edge_day)
        return MeterState(meter_cfg, points, meter_kind(meter_cfg, names), billing, spec, analyzer)

    def _restore(self) -> tuple[dict[str, dict[str, RegisterState]], set[str], dict[str, str]]:
        registers: dict[str, dict[str, RegisterState]] = {}
        for row in self.store.query("SELECT meter_id, point, value, read_ts, odometer FROM meter_registers"):
            registers.setdefault(row["meter_id"], {})[row["point"]] = RegisterState(
                row["value"], parse_rfc3339(row["read_ts"]), row["odometer"])
        active = {row["key"] for row in self.store.query(
            "SELECT key FROM alerts WHERE state = 'active' AND (key LIKE 'meter.%' OR key LIKE 'comfort.%')")}
        edges = {row["meter_id"]: row["day"] for row in self.store.query(
            "SELECT meter_id, max(day) AS day FROM meter_day_edges GROUP BY meter_id")}
        return registers, active, edges

    def _clear_orphans(self) -> None:
        """Alerts of meters and buses no longer configured would never clear: clear them now."""
        known = set(self.meters) | set(self.buses)
        kinds = set(TITLES)
        for row in self.store.query("SELECT key FROM alerts WHERE state = 'active'"):
            kind, _, ident = str(row["key"]).partition(":")
            if kind in kinds and ident not in known:
                self.alerts.clear(row["key"])

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._stop.clear()
        try:
            self._clear_orphans()
        except Exception:
            log.exception("could not clear alerts of meters no longer configured")
        now = time.monotonic()
        for bus_id, runner in self.buses.items():
            for meter in runner.meters:
                meter.next_due = now
            runner.thread = threading.Thread(target=self._run_bus, args=(runner,), name=f"meters-{bus_id}",
                                             daemon=True)
            runner.thread.start()
        if self.run_daily:
            self._daily_thread = threading.Thread(target=self._run_daily, name="meters-daily", daemon=True)
            self._daily_thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop polling and close the ports; returns False if a thread outlived `timeout`."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        threads = [r.thread for r in self.buses.values() if r.thread is not None] + \
            ([self._daily_thread] if self._daily_thread is not None else [])
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stopped = not any(t.is_alive() for t in threads)
        for runner in self.buses.values():
            try:
                runner.bus.close()
            except Exception:
                log.exception("%s: closing the port failed", runner.cfg.id)
            runner.thread = None
        self._daily_thread = None
        self._started = False
        return stopped

    # --- polling -------------------------------------------------------------------------------

    def _run_bus(self, runner: BusRunner) -> None:
        meters = [m for m in runner.meters if m.spec is not None]
        while not self._stop.is_set():
            now = time.monotonic()
            due = sorted((m for m in meters if m.next_due <= now), key=lambda m: m.next_due)
            if not due:
                wait = min((m.next_due for m in meters), default=now + 60.0) - now
                self._stop.wait(max(wait, 0.0))
                continue
            try:
                self._cycle(runner, due)
            except Exception as exc:  # never let one bad cycle end the line's polling
                if not is_stall(exc):  # a stalled store is logged once, by the store
                    log.exception("%s: poll cycle failed", runner.cfg.id)
            done = time.monotonic()
            for meter in due:
                meter.next_due += meter.cfg.interval_s
                if meter.next_due <= done:
                    missed = int((done - meter.next_due) // meter.cfg.interval_s) + 1
                    meter.next_due += missed * meter.cfg.interval_s
                    runner.skipped_slots += missed

    def poll_once(self, bus_id: str | None = None) -> int:
        """Read every meter (of one bus, or all) now, in the caller's thread; returns readings written.

        For tests, tools and the demo; do not call while the service is started."""
        written = 0
        for runner in self.buses.values():
            if bus_id is None or runner.cfg.id == bus_id:
                written += self._cycle(runner, [m for m in runner.meters if m.spec is not None])
        return written

    def _cycle(self, runner: BusRunner, due: list[MeterState]) -> int:
        with runner.lock:
            started = time.monotonic()
            late = 0.0
            results: list[tuple[MeterState, Reading, dt.datetime]] = []
            for meter in due:
                if self._stop.is_set() and self._started:
                    break
                begin = time.monotonic()
                if meter.next_due:
                    late = max(late, begin - meter.next_due)
                assert meter.spec is not None
                reading = runner.bus.read(meter.spec)
                results.append((meter, reading, self.clock()))
                meter.polls += 1
            written = self.recorder.write(runner, results)
            runner.cycles += 1
            runner.last_cycle_s = time.monotonic() - started
            runner.last_cycle_meters = len(results)
            runner.last_cycle_late_s = late
            return written

    # --- consumption ---------------------------------------------------------------------------

    def _run_daily(self) -> None:
        while not self._stop.is_set():
            self.daily_job()
            self._stop.wait(DAILY_CHECK_S)

    def daily_job(self, now: dt.datetime | None = None) -> int:
        """Publish every due daily/monthly consumption not yet published (idempotent; cheap when
        nothing is due). Runs every minute on its own thread once started; returns events written."""
        with self._daily_lock:
            try:
                return self.consumption.run(now or self.clock())
            except Exception as exc:
                if not is_stall(exc):  # a stalled store is logged once, by the store
                    log.exception("consumption job failed")
                return 0

    # --- status --------------------------------------------------------------------------------

    def device_health(self) -> list[DeviceHealth]:
        """One entry per bus (its port) and per meter. Never raises."""
        out: list[DeviceHealth] = []
        for bus_id, runner in list(self.buses.items()):
            try:
                reason = runner.bus.port_reason
                out.append(DeviceHealth(bus_id, HealthState.LOST if reason else HealthState.OK, reason))
                for meter in runner.meters:
                    if meter.spec is None:
                        out.append(DeviceHealth(meter.cfg.id, HealthState.LOST, meter.error))
                    else:
                        out.append(runner.bus.health(meter.cfg.id))
            except Exception as exc:  # noqa: BLE001 - health must never break the host
                out.append(DeviceHealth(bus_id, HealthState.DEGRADED, f"health unavailable: {exc}"))
        return out

    def bus_counters(self) -> dict[str, dict[str, Any]]:
        """Per bus: port state, cycle figures and each meter's transaction counters. Never raises."""
        out: dict[str, dict[str, Any]] = {}
        for bus_id, runner in list(self.buses.items()):
            try:
                per_meter = {m.cfg.id: runner.bus.counters(m.cfg.id).as_dict()
                             for m in runner.meters if m.spec is not None}
                totals: dict[str, int] = {}
                for counters in per_meter.values():
                    for name, value in counters.items():
                        totals[name] = totals.get(name, 0) + value
                out[bus_id] = {
                    "port": runner.cfg.port, "serial": str(serial_settings(runner.cfg)),
                    "port_ok": not runner.bus.port_reason, "port_reason": runner.bus.port_reason,
                    "cycles": runner.cycles, "last_cycle_s": round(runner.last_cycle_s, 4),
                    "last_cycle_meters": runner.last_cycle_meters,
                    "last_cycle_late_s": round(runner.last_cycle_late_s, 4),
                    "skipped_slots": runner.skipped_slots, "write_errors": runner.write_errors,
                    "totals": totals, "meters": per_meter,
                }
            except Exception as exc:  # noqa: BLE001
                out[bus_id] = {"error": str(exc)}
        return out


