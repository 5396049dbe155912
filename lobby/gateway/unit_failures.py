"""Why a lobby unit died: recorded by `lobby unit-failed`, reported by the gateway.

Every lobby unit has `OnFailure=lobby-failed@%n.service`; that template runs
`lobby unit-failed <unit>`, which writes the unit's result, exit code and status
and the time into `<state_dir>/unit-failures.json` (one record per unit, the
latest death, with a count). The values come from the environment systemd gives
an OnFailure= unit (`MONITOR_SERVICE_RESULT`, `MONITOR_EXIT_CODE`,
`MONITOR_EXIT_STATUS`, systemd >= 251) or, for what is missing there, from
`systemctl show`.

The gateway's health report carries the records (`unit_failures`) and each one
raises the alert `unit.failed:<unit>` with what to do in plain words. The alert
clears once the unit is running (or, for a timer's job, has not failed again)
and its last death is older than UNIT_STABLE_S.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mqtt_bridge.alerts import AlertEngine, Severity, alert_key
from mqtt_bridge.timebase import parse_rfc3339, rfc3339, utc_now

RECORD_FILE = "unit-failures.json"
UNIT_STABLE_S = 900.0  # a unit counts as healthy again after running this long since its last death
SHOW_PROPERTIES = ("Result", "ExecMainCode", "ExecMainStatus", "NRestarts", "InvocationID")
_ENV = {"MONITOR_SERVICE_RESULT": "Result", "MONITOR_EXIT_CODE": "ExecMainCode",
        "MONITOR_EXIT_STATUS": "ExecMainStatus", "MONITOR_INVOCATION_ID": "InvocationID"}
# ExecMainCode is a number in `systemctl show` (CLD_* from waitid(2)), a word in $MONITOR_EXIT_CODE.
_CLD = {"1": "exited", "2": "killed", "3": "dumped", "4": "trapped", "5": "stopped", "6": "continued"}


def record_path(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / RECORD_FILE


def properties_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """What systemd put in an OnFailure= unit's environment, under `systemctl show`'s names."""
    return {prop: env[var] for var, prop in _ENV.items() if env.get(var)}


def properties_from_systemctl(unit: str, systemctl: str = "systemctl") -> dict[str, str]:
    """`systemctl show UNIT -p ...` as a dict; empty when systemctl is missing or refuses."""
    if shutil.which(systemctl) is None:
        return {}
    try:
        done = subprocess.run([systemctl, "show", unit, "-p", ",".join(SHOW_PROPERTIES)], capture_output=True,
                              text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return {}
    return parse_show(done.stdout) if done.returncode == 0 else {}


def parse_show(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and value.strip():
            values[key.strip()] = value.strip()
    return values


def make_record(unit: str, props: Mapping[str, str], now: dt.datetime | None = None) -> dict[str, Any]:
    code = props.get("ExecMainCode")
    status = props.get("ExecMainStatus")
    restarts = props.get("NRestarts")
    return {
        "unit": unit,
        "result": props.get("Result") or "unknown",
        "exit_code": _CLD.get(code or "", code) if code else None,
        "exit_status": status if status else None,
        "restarts": int(restarts) if restarts and restarts.isdigit() else None,
        "ts": rfc3339(now or utc_now()),
    }


def read_records(state_dir: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    try:
        doc = json.loads(record_path(state_dir).read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in doc.items() if isinstance(v, dict)} if isinstance(doc, dict) else {}


def record_failure(state_dir: str | os.PathLike[str], unit: str, props: Mapping[str, str],
                   now: dt.datetime | None = None) -> dict[str, Any]:
    """Write (write, fsync, rename) the unit's latest death into the record file; returns the record."""
    records = read_records(state_dir)
    record = make_record(unit, props, now)
    record["count"] = int(records.get(unit, {}).get("count", 0)) + 1
    records[unit] = record
    path = record_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(records, fh, ensure_ascii=False, sort_keys=True, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return record


def fix_for(record: Mapping[str, Any]) -> str:
    """What to do, in plain words, about a unit that died."""
    unit = str(record.get("unit", "the unit"))
    short = unit.removesuffix(".service")
    result = record.get("result")
    logs = f"`journalctl -u {short} -b -n 100` shows its last words."
    if result == "watchdog":
        why = "It hung (stopped answering its watchdog) and systemd killed and restarted it."
    elif result == "oom-kill":
        why = "The Pi ran out of memory and the kernel killed it; check what else runs on this Pi."
    elif result in ("signal", "core-dump"):
        why = "It crashed (killed by a signal) and systemd restarted it."
    elif result == "timeout":
        why = "It did not start or stop in time; a slow or failing SD card is a common cause."
    elif result == "exit-code":
        why = f"It stopped with exit status {record.get('exit_status')} and systemd restarted it."
    else:
        why = f"It stopped ({result}) and systemd restarted it."
    if short in ("lobby-backup", "lobby-purge"):
        why = why.replace(" and systemd restarted it", "; it runs again at its next time")
    return (f"{unit} failed. {why} {logs} Run `sudo -u lobby lobby doctor` on the Pi: it names a broken "
            "config, a full or read-only disk or a store from newer software. If it keeps failing, "
            f"power-cycle the Pi; this alert clears once {short} has run well for {int(UNIT_STABLE_S // 60)} minutes.")


def unit_state(unit: str, systemctl: str = "systemctl") -> str | None:
    """`systemctl is-active UNIT` (active, inactive, failed, activating ...), None if it cannot be asked."""
    if shutil.which(systemctl) is None:
        return None
    try:
        done = subprocess.run([systemctl, "is-active", unit], capture_output=True, text=True, timeout=10,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


class UnitFailureWatch:
    """Turns the record file into the report's `unit_failures` and the unit.failed alerts."""

    def __init__(self, state_dir: str | os.PathLike[str], alerts: AlertEngine,
                 state: Callable[[str], str | None] = unit_state, own_unit: str = "lobby-gateway.service") -> None:
        self.state_dir = state_dir
        self.alerts = alerts
        self.state = state
        self.own_unit = own_unit

    def check(self, now: dt.datetime | None = None) -> list[dict[str, Any]]:
        now = now or utc_now()
        reported = []
        for unit, record in sorted(read_records(self.state_dir).items()):
            try:
                age = (now - parse_rfc3339(str(record.get("ts")))).total_seconds()
            except (ValueError, TypeError):
                age = 0.0
            healthy = age >= UNIT_STABLE_S and self._running_well(unit)
            fix = fix_for(record)
            self.alerts.observe(alert_key("unit.failed", unit), not healthy, severity=Severity.WARNING,
                                title=f"服务异常退出 {unit} failed",
                                detail={**{k: record.get(k) for k in ("unit", "result", "exit_code", "exit_status",
                                                                      "count", "ts")}, "fix": fix})
            reported.append({**record, "healthy_again": healthy})
        return reported

    def _running_well(self, unit: str) -> bool:
        if unit == self.own_unit:
            return True  # this process is it
        state = self.state(unit)
        return state is None or state in ("active", "inactive")  # inactive: a timer's job that last ran well
