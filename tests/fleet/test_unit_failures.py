"""A lobby unit that dies is recorded (lobby-failed@.service runs `lobby unit-failed`),
reported with the gateway's next health.report and alerted to central until it runs well."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from lobby.config import parse_config
from lobby.gateway.health import HealthMonitor
from lobby.gateway.unit_failures import (UnitFailureWatch, parse_show, properties_from_env, read_records,
                                         record_failure, record_path)
from mqtt_bridge.alerts import AlertEngine
from mqtt_bridge.store import Store
from tests.helpers.broker import Broker
from tests.helpers.central import Central
from tests.helpers.gateway_rig import ROOT, GatewayProcess
from tests.helpers.site_config import site_toml

KIOSK = "lobby-kiosk.service"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lobby.cli", "unit-failed", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=env)


def test_the_recorder_writes_the_record_from_given_properties(tmp_path: Path) -> None:
    done = _cli("--state-dir", str(tmp_path), KIOSK, "-p", "Result=exit-code", "-p", "ExecMainCode=1",
                "-p", "ExecMainStatus=3", "-p", "NRestarts=7")
    assert done.returncode == 0, done.stderr
    record = json.loads(record_path(tmp_path).read_text())[KIOSK]
    assert record["unit"] == KIOSK and record["result"] == "exit-code"
    assert record["exit_code"] == "exited" and record["exit_status"] == "3" and record["restarts"] == 7
    assert record["count"] == 1 and record["ts"].endswith("Z")
    _cli("--state-dir", str(tmp_path), KIOSK, "-p", "Result=signal", "-p", "ExecMainCode=2", "-p", "ExecMainStatus=9")
    again = read_records(tmp_path)[KIOSK]
    assert again["count"] == 2 and again["result"] == "signal" and again["exit_code"] == "killed"


def test_the_recorder_reads_what_systemd_puts_in_the_environment(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "MONITOR_SERVICE_RESULT": "watchdog", "MONITOR_EXIT_CODE": "killed",
           "MONITOR_EXIT_STATUS": "ABRT", "PYTHONPATH": str(ROOT)}
    done = _cli("--config", str(tmp_path / "missing.toml"), "--state-dir", str(tmp_path), "lobby-gateway.service",
                env=env)
    assert done.returncode == 0, done.stderr
    record = read_records(tmp_path)["lobby-gateway.service"]
    assert (record["result"], record["exit_code"], record["exit_status"]) == ("watchdog", "killed", "ABRT")
    assert properties_from_env({"MONITOR_SERVICE_RESULT": "oom-kill"}) == {"Result": "oom-kill"}
    assert parse_show("Result=exit-code\nExecMainStatus=1\nNRestarts=\n") == {"Result": "exit-code",
                                                                             "ExecMainStatus": "1"}


def test_the_alert_clears_once_the_unit_has_run_well(tmp_path: Path) -> None:
    cfg = parse_config(site_toml(tmp_path / "state", 1883), "t.toml")
    store = Store(tmp_path / "state" / "h.db")
    alerts = AlertEngine(store)
    states = {KIOSK: "activating"}
    watch = UnitFailureWatch(cfg.state_dir, alerts, state=states.get)
    monitor = HealthMonitor(cfg, store, alerts, lambda: True, list, units=watch)
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    record_failure(cfg.state_dir, KIOSK, {"Result": "exit-code", "ExecMainStatus": "1"}, now=old)
    report = monitor.run_once()
    assert report["unit_failures"][0]["unit"] == KIOSK and report["unit_failures"][0]["healthy_again"] is False
    alert = alerts.get(f"unit.failed:{KIOSK}")
    assert alert is not None and alert["state"] == "active"
    assert "journalctl -u lobby-kiosk" in json.loads(alert["detail"])["fix"]
    states[KIOSK] = "active"  # restarted and running since: healthy again
    assert monitor.run_once()["unit_failures"][0]["healthy_again"] is True
    assert alerts.get(f"unit.failed:{KIOSK}")["state"] == "cleared"
    store.close()


def test_the_gateway_reports_a_recorded_death_to_central(broker: Broker, tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = tmp_path / "lobby.toml"
    config.write_text(site_toml(state, broker.port))
    assert _cli("--config", str(config), KIOSK, "-p", "Result=core-dump", "-p", "ExecMainCode=3",
                "-p", "ExecMainStatus=11").returncode == 0
    central = Central(broker.port, "lobby/tower-a/gw-test")
    gateway = GatewayProcess(config, tmp_path / "gateway.log").start()
    topic = f"lobby/tower-a/gw-test/alerts/unit.failed:{KIOSK}"
    try:
        central.wait_for(lambda: topic in central.retained, timeout=60, what="the unit.failed alert")
        central.wait_for(lambda: any(e["type"] == "health.report" and e["data"].get("unit_failures")
                                     for e in central.events), timeout=60, what="a health.report with the record")
    finally:
        gateway.stop()
        central.close()
    alert = json.loads(central.retained[topic])
    assert alert["state"] == "active" and alert["detail"]["result"] == "core-dump"
    assert "crashed" in alert["detail"]["fix"] and "lobby doctor" in alert["detail"]["fix"]
    report = next(e["data"] for e in central.events if e["type"] == "health.report" and e["data"].get("unit_failures"))
    assert report["unit_failures"][0]["exit_status"] == "11"
    # retained: a central that connects later still sees it
    late = Central(broker.port, "lobby/tower-a/gw-test")
    try:
        late.wait_for(lambda: topic in late.retained, what="the retained alert for a late subscriber")
    finally:
        late.close()
    assert central.invalid == []
