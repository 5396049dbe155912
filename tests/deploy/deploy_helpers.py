"""Shared helpers for tests/deploy (a uniquely named module, imported by basename)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from drivers.meters import SerialSettings
from drivers.meters.sim import SimBus, SimCjt188Meter, SimDlt645Meter, SimModbusDevice
from drivers.nfc.sim.pn532 import PN532Simulator
from lobby.cli import main
from tests.helpers.broker import Broker

REPO = Path(__file__).resolve().parents[2]
SYSTEMD = REPO / "systemd"
INSTALL = SYSTEMD / "install.sh"
# 8N1: a simulator pty opened a second time with parity E fails tcsetattr (EINVAL), and the
# doctor opens the port once per run; real adapters do not care.
LINE = SerialSettings(115200, 8, "N", 1)

SITE_CONFIG = """
version = 1
state_dir = "{state}"
[site]
site_id = "tower-a"
gateway_id = "gw-test"
[mqtt]
host = "127.0.0.1"
port = {port}
keepalive_s = 5
{mqtt_extra}
[store]
disk_min_free_mb = 1
[alerts]
disk_min_free_pct = 1
[gpio]
pin_factory = "mock"
buzzer_pin = 12
[printer]
kind = "file"
path = "{printer}"
[[readers]]
id = "nfc-lobby"
connstring = "pn532_uart:{nfc}"
host = "kiosk"
[[buses]]
id = "rs485-1"
port = "{meters}"
baudrate = 115200
parity = "N"
[[meters]]
id = "elec-lobby"
bus = "rs485-1"
protocol = "dlt645"
address = "000000001234"
[[meters]]
id = "water-main"
bus = "rs485-1"
protocol = "cjt188"
address = "00000000005678"
kind = "water"
[[meters]]
id = "th-lobby"
bus = "rs485-1"
protocol = "modbus"
address = "2"
map = "th_sensor"
kind = "environment"
[[buttons]]
id = "btn-help"
pin = 17
place = "Lobby"
meaning = "Call staff"
"""


class Site:
    """A lobby on simulated hardware: an RS-485 line with three meters, a PN532 reader,
    a file printer, mock GPIO and a real mosquitto, and a config file naming them all."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.state = tmp / "state"
        self.config = tmp / "lobby.toml"
        self.broker: Broker | None = None
        self.line: SimBus | None = None
        self.nfc: PN532Simulator | None = None

    def start(self, broker: Broker | None = None, mqtt_extra: str = "") -> "Site":
        self.broker = broker or Broker(self.tmp / "broker").start()
        self.line = SimBus(self.tmp / "ttyMETERS", LINE, [
            SimDlt645Meter("elec-lobby", "000000001234", energy_kwh=1234.5),
            SimCjt188Meter("water-main", "00000000005678", volume_m3=42.0),
            SimModbusDevice("th-lobby", 2, "xy_md02"),
        ], seed=1).start()
        self.nfc = PN532Simulator(self.tmp / "pn532").start()
        self.write_config(mqtt_extra)
        return self

    def write_config(self, mqtt_extra: str = "") -> None:
        assert self.broker is not None
        self.config.write_text(SITE_CONFIG.format(state=self.state, port=self.broker.port, mqtt_extra=mqtt_extra,
                                                  printer=self.tmp / "printer.bin", nfc=self.tmp / "pn532",
                                                  meters=self.tmp / "ttyMETERS"))

    def stop(self) -> None:
        if self.nfc is not None:
            self.nfc.stop()
        if self.line is not None:
            self.line.stop()
        if self.broker is not None:
            self.broker.stop()

    def doctor(self, *extra: str) -> tuple[int, dict[str, Any]]:
        """`lobby doctor --json` in this process; the exit status and the parsed report."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = main(["doctor", "--config", str(self.config), "--json", *extra])
        return status, json.loads(out.getvalue())

    def doctor_text(self, *extra: str) -> tuple[int, str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = main(["doctor", "--config", str(self.config), *extra])
        return status, out.getvalue()


def by_check(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["check"]: c for c in report["checks"]}


def run_install(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LC_ALL": "C"}
    return subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True, env=env, check=check,
                          timeout=60)


def tree_snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every path under root with its type, mode, size, content digest, mtime and link target."""
    import hashlib

    snap: dict[str, tuple[Any, ...]] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        st = path.lstat()
        if path.is_symlink():
            snap[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            snap[rel] = ("dir", oct(st.st_mode))
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            snap[rel] = ("file", oct(st.st_mode), st.st_size, digest, st.st_mtime_ns, st.st_ino)
    return snap


def host_units_into(root: Path) -> None:
    """systemd-analyze verify --root needs the standard targets (multi-user.target, ...) in the root."""
    dest = root / "usr/lib/systemd/system"
    if not dest.exists():
        shutil.copytree("/usr/lib/systemd/system", dest, symlinks=True)


def stub_executable(root: Path, path: str) -> None:
    """What apt or pip would have put there (install.sh --root skips both)."""
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("#!/bin/sh\nexit 0\n")
    target.chmod(0o755)


__all__ = ["INSTALL", "REPO", "SYSTEMD", "Site", "by_check", "host_units_into", "run_install",
           "stub_executable", "tree_snapshot"]
