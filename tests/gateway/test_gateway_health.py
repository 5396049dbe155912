"""Health monitor: thresholds become alerts, device loss is an alert, the KPI is published once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from drivers.health import DeviceHealth, HealthState
from mqtt_bridge.alerts import AlertEngine
from lobby.config import Config
from lobby.config.model import ButtonConfig, PrinterConfig
from lobby.gateway.health import HealthMonitor, SystemSample
from mqtt_bridge.schemas import validate_event
from mqtt_bridge.store import Store


def _monitor(cfg: Config, devices: list[DeviceHealth], sample: SystemSample) -> tuple[HealthMonitor, Store]:
    store = Store(Path(cfg.state_dir) / "h.db")
    monitor = HealthMonitor(cfg, store, AlertEngine(store), lambda: True, lambda: devices, read=lambda _: sample)
    return monitor, store


def _sample(**changes: object) -> SystemSample:
    base = {"uptime_s": 100.0, "cpu_temp_c": 50.0, "load_1m": 0.5, "mem_available_mb": 500.0,
            "disk_free_pct": 50.0, "clock_synced": True}
    return SystemSample(**{**base, **changes})  # type: ignore[arg-type]


def test_thresholds_raise_and_clear_alerts(make_config) -> None:  # noqa: ANN001
    cfg = make_config(1883)
    devices = [DeviceHealth("nfc-roof", HealthState.OK)]
    monitor, store = _monitor(cfg, devices, _sample(disk_free_pct=5.0, cpu_temp_c=85.0))
    for second in range(3):
        report = monitor.run_once(now_mono=1000.0 + second * 60)
    active = {r["key"] for r in store.query("SELECT key FROM alerts WHERE state = 'active'")}
    assert {"gateway.disk_space", "gateway.cpu_hot"} <= active
    event = store.query("SELECT * FROM outbox WHERE type = 'health.report' ORDER BY seq DESC LIMIT 1")[0]
    assert report["devices"] == [{"device_id": "nfc-roof", "state": "ok", "reason": ""}]
    from mqtt_bridge.store.outbox import _record

    row = store.connection().execute("SELECT seq, id, kind, type, lane, ts, boot_id, mono_ns, clock_synced, data "
                                     "FROM outbox WHERE seq = ?", (event["seq"],)).fetchone()
    assert validate_event("health", _record(row).envelope(False)) is None
    monitor.read = lambda _: _sample()
    for second in range(3):
        monitor.run_once(now_mono=2000.0 + second * 60)
    active = {r["key"] for r in store.query("SELECT key FROM alerts WHERE state = 'active'")}
    assert not active & {"gateway.disk_space", "gateway.cpu_hot"}


def test_a_lost_reader_is_an_alert_after_two_reports(make_config) -> None:  # noqa: ANN001
    cfg = make_config(1883)
    devices = [DeviceHealth("nfc-roof", HealthState.LOST, "port vanished")]
    monitor, store = _monitor(cfg, devices, _sample())
    monitor.run_once(now_mono=10.0)
    assert store.query("SELECT key FROM alerts WHERE key = 'device.lost:nfc-roof'") == []
    monitor.run_once(now_mono=70.0)
    alert = store.query("SELECT state, detail FROM alerts WHERE key = 'device.lost:nfc-roof'")[0]
    assert alert["state"] == "active" and "port vanished" in alert["detail"]
    devices[0] = DeviceHealth("nfc-roof", HealthState.OK)
    monitor.run_once(now_mono=130.0)
    assert store.query("SELECT state FROM alerts WHERE key = 'device.lost:nfc-roof'")[0]["state"] == "cleared"


def test_facility_kpi_is_published_once_per_day(make_config) -> None:  # noqa: ANN001
    cfg = make_config(1883)
    devices = [DeviceHealth("a", HealthState.OK), DeviceHealth("b", HealthState.LOST, "gone")]
    monitor, store = _monitor(cfg, devices, _sample())
    for minute in range(5):
        monitor.run_once(now_mono=100.0 + minute * 60)
    today = dt.datetime.now(monitor.tz).date()
    kpi = monitor.kpi("day", today.isoformat())
    assert kpi["inventory"] == 2 and kpi["good_order_pct"] == 50.0 and kpi["met_target"] is False
    tomorrow = today + dt.timedelta(days=1)
    assert len(monitor.daily_kpi(tomorrow)) == 1
    assert monitor.daily_kpi(tomorrow) == []  # idempotent across restarts and repeated calls
    assert store.scalar("SELECT count(*) FROM outbox WHERE type = 'facility.kpi'") == 1


def test_defect_facility_kpi_is_a_share_of_the_inventory_not_of_time(make_config) -> None:  # noqa: ANN001
    """A button lost for 43 minutes of a day, a degraded reader and a silent kiosk printer are not in good order."""
    import json

    from mqtt_bridge.timebase import utc_now

    base = make_config(1883)
    cfg = base.model_copy(update={"buttons": [ButtonConfig(id="btn-toilet", pin=17, place="卫生间", meaning="清洁"),
                                              ButtonConfig(id="btn-lift", pin=18, place="电梯厅", meaning="报修")],
                                  "printer": PrinterConfig(kind="file", path="/tmp/receipts.bin")})
    devices = [DeviceHealth("btn-toilet", HealthState.OK), DeviceHealth("btn-lift", HealthState.OK)]
    monitor, store = _monitor(cfg, devices, _sample())
    store.set_meta("kiosk.devices", json.dumps({"ts": utc_now().isoformat(), "devices": [
        {"device_id": "badge-printer", "state": "ok", "reason": ""}]}))
    for minute in range(24 * 60 // 10):  # a day of samples, one every 10 minutes
        devices[1] = DeviceHealth("btn-lift", HealthState.LOST if 60 <= minute < 65 else HealthState.OK)
        monitor.run_once(now_mono=100.0 + minute * 600)
    today = dt.datetime.now(monitor.tz).date().isoformat()
    kpi = monitor.kpi("day", today)
    assert (kpi["inventory"], kpi["in_good_order"], kpi["good_order_pct"]) == (3, 2, 66.67)
    assert kpi["met_target"] is False and kpi["not_in_good_order"] == {"btn-lift": "lost"}
    assert kpi["by_kind"]["button"] == {"in_good_order": 1, "inventory": 2}
    devices[0] = DeviceHealth("btn-toilet", HealthState.DEGRADED, "bouncing")
    store.set_meta("kiosk.devices", json.dumps({"ts": "2020-01-01T00:00:00Z", "devices": []}))  # the kiosk is down
    monitor.run_once(now_mono=10**6)
    kpi = monitor.kpi("day", today)
    assert kpi["in_good_order"] == 0 and kpi["not_in_good_order"] == {
        "btn-lift": "lost", "btn-toilet": "degraded", "badge-printer": "unknown"}
