"""A whole simulated gateway as its own process, for chaos, security and soak runs.

`gateway_config()` writes a config with every device class the gateway drives:
complaint and feedback buttons (mock pins behind `<state>/sim/gpio.sock`), a
checkpoint reader (a PN532 simulator behind `<state>/sim/nfc-gw.sock`, read by the
real libnfc driver), RS-485 lines with DL/T 645, CJ/T 188 and Modbus meters
(`<state>/sim/meters.sock`), patrol guards and a route. `GatewayProcess` runs
`lobby gateway --simulate` on it and can kill it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from drivers.sim.paths import sim_dir  # noqa: F401 - the tests import it from here
from tests.helpers.site_config import GUARD_CARD, STAFF_CARD, gpio_panel, site_toml, staff_cards

ROOT = Path(__file__).resolve().parents[2]

DEVICES = """
[[readers]]
id = "nfc-gw"
kind = "libnfc"
connstring = "pn532_uart:/dev/null-not-used"
host = "gateway"
checkpoint = "cp-roof"

[[buses]]
id = "rs485-e"
port = "/dev/not-used-when-simulated-e"
baudrate = 9600
parity = "E"
timeout_ms = 200

[[buses]]
id = "rs485-n"
port = "/dev/not-used-when-simulated-n"
baudrate = 9600
parity = "N"
timeout_ms = 200

[[meters]]
id = "elec-a"
bus = "rs485-e"
protocol = "dlt645"
address = "000000001234"
interval_s = {interval_s}
offline_after_failures = 2

[[meters]]
id = "water-a"
bus = "rs485-e"
protocol = "cjt188"
address = "00000000005678"
interval_s = {interval_s}
offline_after_failures = 2

[[meters]]
id = "elec-m"
bus = "rs485-n"
protocol = "modbus"
address = "1"
map = "sdm120"
interval_s = {interval_s}
offline_after_failures = 2

[patrol]
checkpoints = [
  {{ id = "cp-b1", name = "B1", place = "B1 Car park", tag_uid = "04A1B2C3D4E501" }},
  {{ id = "cp-roof", name = "Roof", place = "Roof plant room", reader = "nfc-gw" }},
]
guards = [ {{ id = "g-wang", name = "王保安", card_uid = "{guard_card}" }} ]
routes = [ {{ id = "night", name = "Night round", checkpoints = ["cp-roof", "cp-b1"], ordered = true }} ]
"""


def gateway_config(state_dir: Path, port: int, *, version: int = 1, interval_s: int = 1, extra: str = "",
                   mqtt_extra: str = "", meters: bool = True, gateway_id: str = "gw-test",
                   hosts: list[str] | None = None) -> str:
    devices = DEVICES.format(interval_s=interval_s, guard_card=GUARD_CARD)
    if not meters:
        devices = devices.split("[[buses]]", 1)[0] + "[patrol]" + devices.split("[patrol]", 1)[1]
    return site_toml(state_dir, port, version=version, reconnect_max_s=1, mqtt_extra=mqtt_extra,
                     gateway_id=gateway_id, hosts=hosts, extra=staff_cards(STAFF_CARD) + gpio_panel(repeat_window_s=1) + devices + extra)


def shipped_python_env(cache_dir: Path) -> dict[str, str]:
    """The Python and C library settings systemd/lobby-gateway.service runs the gateway with
    (-OO, compiled modules kept in a cache directory, glibc's tunables), with `cache_dir` for
    the unit's /var/cache/lobby."""
    unit = (ROOT / "systemd/lobby-gateway.service").read_text()
    env: dict[str, str] = {}
    for line in unit.splitlines():
        if line.startswith("Environment="):
            env.update(pair.split("=", 1) for pair in line.removeprefix("Environment=").split())
    python = {key: value for key, value in env.items()
              if key.startswith(("PYTHON", "GLIBC_")) and key != "PYTHONUNBUFFERED"}
    if "PYTHONPYCACHEPREFIX" in python:
        python["PYTHONPYCACHEPREFIX"] = str(cache_dir / python["PYTHONPYCACHEPREFIX"].removeprefix("/var/cache/lobby/"))
        python["PYTHONDONTWRITEBYTECODE"] = ""  # empty: off, as on the Pi, so the cache is written
    return python


class GatewayProcess:
    """`lobby gateway --simulate` as a child process (stderr to a file, so nothing blocks)."""

    def __init__(self, config: Path, log_path: Path, log_level: str = "WARNING",
                 env: dict[str, str] | None = None) -> None:
        self.config = config
        self.log_path = log_path
        self.log_level = log_level
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> "GatewayProcess":
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        environment = {**os.environ, **(self.env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lobby.cli", "--log-level", self.log_level, "gateway",
             "--config", str(self.config), "--simulate"],
            cwd=ROOT, stdout=log, stderr=log, env=environment)
        log.close()
        self.started_at = time.monotonic()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM: a clean stop (flushes in-flight PUBACKs, marks offline)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def wait_path(path: Path, timeout: float, proc: GatewayProcess | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return True
        if proc is not None and not proc.alive():
            return False
        time.sleep(0.01)
    return False


def many_meters(count: int, lines: int = 10, interval_s: int = 5) -> str:
    """TOML for `count` meters on `lines` simulated RS-485 lines, DL/T 645 and Modbus (SDM120) in turn."""
    parts = [f'[[buses]]\nid = "line-{b}"\nport = "/dev/not-used-line-{b}"\nbaudrate = 115200\nparity = "N"\n'
             f'timeout_ms = 200\n' for b in range(lines)]
    for m in range(count):
        line = m % lines
        if m % 2:
            parts.append(f'[[meters]]\nid = "m{m:03d}"\nbus = "line-{line}"\nprotocol = "modbus"\n'
                         f'address = "{m // lines + 1}"\nmap = "sdm120"\ninterval_s = {interval_s}\n')
        else:
            parts.append(f'[[meters]]\nid = "m{m:03d}"\nbus = "line-{line}"\nprotocol = "dlt645"\n'
                         f'address = "{m + 1:012d}"\ninterval_s = {interval_s}\n')
    return "\n".join(parts)
