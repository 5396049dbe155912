"""Gateway health: a `health.report` every minute, threshold alerts, the facility KPI.

System figures come from /proc and /sys and are each optional: a reading that a
machine cannot give (no thermal zone in a container) is null, never an error.
Device health comes from the drivers (HealthReporter) and, for the kiosk's own
readers and printer, from the snapshot the kiosk writes every minute; every sample
feeds the DOMAIN KPI 设施设备完好率 (facility_kpi.py: devices in good order ÷ the
inventory, per day, at least 98 %).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from drivers.health import DeviceHealth, HealthState

from mqtt_bridge.alerts import AlertEngine, Severity
from lobby.config import Config
from lobby.gateway.facility_kpi import FacilityKpi
from lobby.gateway.platform import PlatformHealth
from lobby.gateway.unit_failures import UnitFailureWatch
from lobby.liveness import ALIVE, FIX, HEARTBEAT_META, MISSING, assess
from mqtt_bridge.store import Lane, Store, StoreError
from mqtt_bridge.store.outbox import depth
from mqtt_bridge.timebase import BOOT_ID, clock_synchronised, parse_rfc3339, utc_now

log = logging.getLogger(__name__)

DISK_KEY = "gateway.disk_space"
CPU_KEY = "gateway.cpu_hot"
CLOCK_KEY = "gateway.clock_unsynced"
CLOCK_SYNCED_BOOT_KEY = "clock.synced_boot"  # meta: the boot id in which the clock was last seen synchronised
OUTBOX_KEY = "gateway.outbox_stale"
SNAPSHOT_KEY = "gateway.health"  # meta key: the latest health report, for the staff screen
KIOSK_DEVICES_KEY = "kiosk.devices"  # meta key: the kiosk's readers and printer, written by the kiosk
KIOSK_DEVICES_MAX_AGE_S = 180.0
KIOSK_KEY = "kiosk.stale"  # no heartbeat from the kiosk (lobby/liveness.py)


@dataclass(frozen=True)
class SystemSample:
    uptime_s: float
    cpu_temp_c: float | None
    load_1m: float
    mem_available_mb: float | None
    disk_free_pct: float
    clock_synced: bool


def _read_float(path: str, scale: float = 1.0) -> float | None:
    try:
        return float(Path(path).read_text().split()[0]) / scale
    except (OSError, ValueError, IndexError):
        return None


def read_system(state_dir: str | os.PathLike[str]) -> SystemSample:
    usage = shutil.disk_usage(state_dir)
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                mem = int(line.split()[1]) / 1024
    except OSError:
        pass
    return SystemSample(
        uptime_s=_read_float("/proc/uptime") or 0.0,
        cpu_temp_c=_read_float("/sys/class/thermal/thermal_zone0/temp", 1000.0),
        load_1m=os.getloadavg()[0],
        mem_available_mb=mem,
        disk_free_pct=round(100.0 * usage.free / usage.total, 1) if usage.total else 0.0,
        clock_synced=clock_synchronised(),
    )


DeviceSource = Callable[[], list[DeviceHealth]]


class HealthMonitor:
    """Call `run_once()` every `alerts.health_interval_s`; `daily_kpi()` once a day is enough."""

    def __init__(self, cfg: Config, store: Store, alerts: AlertEngine, link_up: Callable[[], bool],
                 devices: DeviceSource, read: Callable[[str], SystemSample] = read_system,
                 broker: Callable[[], str | None] | None = None, units: UnitFailureWatch | None = None,
                 platform: PlatformHealth | None = None) -> None:
        self.cfg = cfg
        self.store = store
        self.alerts = alerts
        self.link_up = link_up
        self.broker = broker or (lambda: None)  # "host:port" of the broker (cluster node) connected to
        self.devices = devices
        self.read = read
        self.tz = zoneinfo.ZoneInfo(cfg.site.timezone)
        self._unsynced_since: float | None = None
        self._synced_this_boot = store.get_meta(CLOCK_SYNCED_BOOT_KEY) == BOOT_ID
        self.facilities = FacilityKpi(cfg, store)
        # Why a lobby unit died (lobby-failed@.service): reported and alerted until it runs well again.
        self.units = units or UnitFailureWatch(cfg.state_dir, alerts)
        # Power, SD card, read-only remounts, build and boot id (platform.py): each problem an alert.
        self.platform = platform or PlatformHealth(alerts)
        self._born_mono = time.monotonic()  # a kiosk that has not beaten yet is "missing" only after the grace

    # ------------------------------------------------------------------ the minute report

    def run_once(self, now_mono: float | None = None) -> dict[str, Any]:
        now_mono = time.monotonic() if now_mono is None else now_mono
        self._report_stalls()
        system = self.read(self.cfg.state_dir)
        devices = self._safe_devices()
        outbox = self._outbox()
        link_up = self.link_up()
        report = {**asdict(system), "broker_link": "up" if link_up else "down",
                  "broker": self.broker() if link_up else None, "outbox": outbox,
                  "devices": [d.as_dict() for d in devices], "unit_failures": self._unit_failures(),
                  **self._platform()}
        kiosk = self._kiosk()
        if kiosk is not None:
            report["kiosk"] = kiosk
        self._check_thresholds(system, outbox, now_mono)
        self._check_devices(devices)
        self.facilities.sample(dt.datetime.now(self.tz).date().isoformat(), devices + self.kiosk_devices())
        self.store.emit("health", "health.report", report, Lane.BULK)
        # The kiosk's staff screen (another process) shows the latest snapshot from here.
        self.store.set_meta(SNAPSHOT_KEY, json.dumps({**report, "ts": utc_now().isoformat()}, ensure_ascii=False))
        return report

    def _platform(self) -> dict[str, Any]:
        try:
            return self.platform.check(self.cfg.state_dir)
        except StoreError:  # a stalled store: StallWatch logs it once, the rest of the report still goes
            return {}
        except Exception:  # a source that misbehaves must not stop health reporting
            log.exception("platform health could not be read")
            return {}

    def _unit_failures(self) -> list[dict[str, Any]]:
        try:
            return self.units.check()
        except StoreError:  # a stalled store: StallWatch logs it once
            return []
        except Exception:  # the record file is a report, never a reason to stop reporting
            log.exception("unit failure records could not be read")
            return []
    def _report_stalls(self) -> None:
        """Each stall of the store that has ended, once, as `store.stalled` (start, end, duration, cause):
        the outbox takes it to central when the link is up, however long after."""
        reports = self.store.stall.take_reports()
        if not reports:
            return
        try:
            with self.store.transaction() as tx:
                for report in reports:
                    tx.emit("health", "store.stalled", report, Lane.CRITICAL)
        except Exception:
            self.store.stall.put_back(reports)  # stalled again: sent with the next report
            raise

    def _safe_devices(self) -> list[DeviceHealth]:
        try:
            return list(self.devices())
        except Exception:  # a faulty driver must not stop health reporting
            log.exception("device health source failed")
            return []

    def _outbox(self) -> dict[str, Any]:
        lanes = depth(self.store.connection())
        oldest = [d.oldest_ts for d in lanes.values() if d.oldest_ts]
        age = None
        if oldest:
            age = max(0.0, (utc_now() - parse_rfc3339(min(oldest))).total_seconds())
        return {"critical": lanes[Lane.CRITICAL].rows, "bulk": lanes[Lane.BULK].rows, "oldest_age_s": age}

    def _check_thresholds(self, system: SystemSample, outbox: dict[str, Any], now_mono: float) -> None:
        limits = self.cfg.alerts
        self.alerts.observe(DISK_KEY, system.disk_free_pct < limits.disk_min_free_pct, severity=Severity.WARNING,
                            title="存储空间不足 Disk space low", detail={"free_pct": system.disk_free_pct})
        if system.cpu_temp_c is not None:
            self.alerts.observe(CPU_KEY, system.cpu_temp_c > limits.cpu_temp_max_c, severity=Severity.WARNING,
                                title="主机过热 Gateway CPU too hot", detail={"cpu_temp_c": system.cpu_temp_c},
                                raise_after=2, clear_after=2)
        self._check_clock(system, now_mono)
        age = outbox["oldest_age_s"]
        stale = age is not None and age > limits.outbox_oldest_max_min * 60
        self.alerts.observe(OUTBOX_KEY, stale, severity=Severity.WARNING,
                            title="数据积压未上传 Events not reaching central",
                            detail={"oldest_age_s": round(age or 0.0), "critical": outbox["critical"],
                                    "bulk": outbox["bulk"]})

    def _check_clock(self, system: SystemSample, now_mono: float) -> None:
        """Unsynchronised for clock_unsynced_max_min, or never synchronised in this boot by
        clock_unsynced_boot_min after it started (the boot's age, so a gateway restarted an hour into
        a boot with NTP blocked raises it at its first report, not an hour later)."""
        limits = self.cfg.alerts
        if system.clock_synced:
            self._unsynced_since = None
            if not self._synced_this_boot:
                self._synced_this_boot = True
                self.store.set_meta(CLOCK_SYNCED_BOOT_KEY, BOOT_ID)  # survives a restart of the gateway
        elif self._unsynced_since is None:
            self._unsynced_since = now_mono
        unsynced_min = 0.0 if self._unsynced_since is None else (now_mono - self._unsynced_since) / 60
        boot_min = system.uptime_s / 60
        never_this_boot = not system.clock_synced and not self._synced_this_boot
        late = unsynced_min >= limits.clock_unsynced_max_min or (never_this_boot and boot_min >= limits.clock_unsynced_boot_min)
        servers = list(self.cfg.time.ntp_servers)
        if servers:
            fix = (f"The time servers in [time] ntp_servers ({', '.join(servers)}) do not answer: check that they run "
                   "and that this network lets UDP port 123 reach them; `lobby doctor` asks each one the time.")
        else:
            fix = ("This network may block public time servers (NTP, UDP port 123): set [time] ntp_servers to the "
                   "site's own time server (ask IT for its address) and run install.sh again, or open UDP port 123 "
                   "outbound; `lobby doctor` checks it. Events are kept and their times corrected once the clock syncs.")
        self.alerts.observe(CLOCK_KEY, late, severity=Severity.WARNING, title="时钟未同步 Clock not synchronised",
                            detail={"unsynced_min": round(unsynced_min, 1), "boot_age_min": round(boot_min, 1),
                                    "synced_this_boot": self._synced_this_boot, "ntp_servers": servers, "fix": fix})
    def _kiosk(self) -> dict[str, Any] | None:
        """The kiosk's heartbeat for the report (None on a Pi without a kiosk), and the alert kiosk.stale
        while it is stale, blank or missing (missing only once the gateway has run for the same time,
        so a kiosk still starting after a boot is no alert). Two reports in a row raise it."""
        stale_after = self.cfg.alerts.kiosk_stale_after_s
        if not stale_after:
            return None
        try:
            kiosk = assess(self.store.get_meta(HEARTBEAT_META), stale_after)
        except Exception as exc:  # a busy store: the rest of the report still goes out
            log.warning("kiosk heartbeat not read: %s", type(exc).__name__)
            return None
        state = kiosk["state"]
        bad = state != ALIVE and (state != MISSING or time.monotonic() - self._born_mono > stale_after)
        self.alerts.observe(KIOSK_KEY, bad, severity=Severity.WARNING, title="自助屏无响应 Kiosk screen not running",
                            detail={"state": state, "age_s": kiosk["age_s"], "last_seen_ts": kiosk["last_seen_ts"],
                                    "screen": kiosk["screen"], "stale_after_s": stale_after, "fix": FIX.get(state, "")},
                            raise_after=2, clear_after=1)
        return kiosk

    def _check_devices(self, devices: list[DeviceHealth]) -> None:
        """A reader, printer or button that stays lost is an alert for the engineers.

        Meters and their lines have their own, more precise alerts (meter.offline,
        meter.bus_down); two reports in a row are needed either way, so a reader
        being re-plugged does not page anyone.
        """
        meter_ids = {m.id for m in self.cfg.meters} | {b.id for b in self.cfg.buses}
        for device in devices:
            if device.device_id in meter_ids:
                continue
            self.alerts.observe(f"device.lost:{device.device_id}", device.state is HealthState.LOST,
                                severity=Severity.WARNING, title="设备失联 Device not answering",
                                detail={"device_id": device.device_id, "reason": device.reason},
                                raise_after=2, clear_after=1)

    # ------------------------------------------------------------------ facility KPI (facility_kpi.py)

    def kiosk_devices(self) -> list[DeviceHealth]:
        """The kiosk's own readers and printer, as the kiosk last wrote them (nothing if it is stale or absent)."""
        try:
            raw = self.store.get_meta(KIOSK_DEVICES_KEY)
            snapshot = json.loads(raw) if raw else None
            age = (utc_now() - parse_rfc3339(snapshot["ts"])).total_seconds() if snapshot else None
        except (ValueError, KeyError, TypeError):
            return []
        if age is None or not 0 <= age <= KIOSK_DEVICES_MAX_AGE_S:
            return []
        return [DeviceHealth(str(d["device_id"]), HealthState(d["state"]), str(d.get("reason", "")))
                for d in snapshot.get("devices", []) if d.get("state") in {s.value for s in HealthState}]

    def kpi(self, period: str, start: str) -> dict[str, Any]:
        """设施设备完好率 over a site-local day ('YYYY-MM-DD') or month ('YYYY-MM')."""
        return self.facilities.figures(period, start)

    def daily_kpi(self, today: dt.date | None = None) -> list[dict[str, Any]]:
        """Publish yesterday's KPI (and last month's on the 1st), once each."""
        return self.facilities.publish(today or dt.datetime.now(self.tz).date(), utc_now().isoformat())
