"""The systemd units: `systemd-analyze verify` clean, and the gateway's exposure score <= 2.5.

Verification runs against a throwaway root made by `install.sh --root` (so it checks
the files exactly as they are installed, drop-ins included), with the host's own
standard units copied in (multi-user.target, timers.target, getty@.service, ...) and
stubs where apt and pip would have put /opt/lobby/bin/lobby and /usr/bin/cage:
`verify` insists that every ExecStart= binary exists.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_helpers import SYSTEMD, host_units_into, run_install, stub_executable

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze is missing (Debian package: systemd)")

UNITS = ["lobby-gateway.service", "lobby-kiosk.service", "lobby-purge.service", "lobby-purge.timer",
         "lobby-backup.service", "lobby-backup.timer", "lobby-failed@lobby-kiosk.service.service"]
SERVICES = ["lobby-gateway.service", "lobby-kiosk.service", "lobby-purge.service", "lobby-backup.service"]
GATEWAY_MAX_EXPOSURE = 2.5


def _installed_root(tmp_path: Path, *args: str) -> Path:
    root = tmp_path / "root"
    run_install("--root", str(root), *args)
    host_units_into(root)
    stub_executable(root, "/opt/lobby/bin/lobby")
    stub_executable(root, "/usr/bin/cage")
    return root


def _verify(root: Path, unit: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemd-analyze", "verify", f"--root={root}", unit], capture_output=True, text=True,
                          timeout=60)


def _exposure(root: Path, unit: str) -> tuple[float, str]:
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", f"--root={root}", "--no-pager", unit],
                          capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout)
    assert match, done.stdout + done.stderr
    return float(match[1]), done.stdout


@pytest.mark.parametrize("mode", ["kms", "cage"])
def test_every_unit_verifies_cleanly_as_installed(tmp_path: Path, mode: str) -> None:
    root = _installed_root(tmp_path, "--kiosk-mode", mode)
    assert (root / "etc/systemd/system/lobby-kiosk.service.d/cage.conf").exists() == (mode == "cage")
    for unit in UNITS:
        done = _verify(root, unit)
        assert done.returncode == 0 and not done.stderr.strip(), f"{unit}:\n{done.stderr}"


def test_verify_notices_a_missing_binary(tmp_path: Path) -> None:
    root = _installed_root(tmp_path)
    (root / "opt/lobby/bin/lobby").unlink()
    done = _verify(root, "lobby-gateway.service")
    assert done.returncode != 0 and "/opt/lobby/bin/lobby" in done.stderr  # the check above is a real one


def test_gateway_exposure_is_at_most_2_5_and_the_kiosk_is_reported(tmp_path: Path) -> None:
    root = _installed_root(tmp_path)
    gateway, report = _exposure(root, "lobby-gateway.service")
    kiosk, _ = _exposure(root, "lobby-kiosk.service")
    purge, _ = _exposure(root, "lobby-purge.service")
    backup, _ = _exposure(root, "lobby-backup.service")
    print(f"\nsystemd-analyze security --offline=true: gateway {gateway}, kiosk {kiosk}, purge {purge}, "
          f"backup {backup}")
    assert gateway <= GATEWAY_MAX_EXPOSURE, report


def _unit(name: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in (SYSTEMD / name).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";")):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def test_gateway_unit_has_what_the_service_relies_on() -> None:
    unit = _unit("lobby-gateway.service")
    assert unit["Type"] == ["notify"] and unit["NotifyAccess"] == ["main"]
    assert unit["Restart"] == ["always"] and "WatchdogSec" in unit
    assert unit["User"] == ["lobby"] and unit["StateDirectory"] == ["lobby"]
    assert set(unit["SupplementaryGroups"][0].split()) == {"dialout", "gpio", "i2c", "plugdev", "systemd-journal"}
    assert unit["DevicePolicy"] == ["closed"] and unit["CapabilityBoundingSet"] == [""]
    assert unit["MemoryDenyWriteExecute"] == ["yes"] and unit["UMask"] == ["0077"]
    # timebase.clock_synchronised() reads the NTP state with adjtimex(2), which @system-service
    # and ProtectClock=yes would both refuse: the gateway would call every clock unsynced.
    assert "adjtimex" in unit["SystemCallFilter"] and "ProtectClock" not in unit
    # ProcSubset=pid would hide /proc/sys/kernel/random/boot_id, which every record carries.
    assert "ProcSubset" not in unit
    # config.update replaces /etc/lobby/lobby.toml.
    assert unit["ReadWritePaths"] == ["-/etc/lobby"]
    assert unit["ExecStart"] == ["/opt/lobby/bin/lobby gateway --config /etc/lobby/lobby.toml"]
    # -OO keeps the gateway under 40 MB; its compiled modules go where it may write them
    # (bench/gateway_rss_bench.py and tests/gateway/test_gateway_process.py run it so).
    environment = dict(pair.split("=", 1) for line in unit["Environment"] for pair in line.split())
    assert environment["PYTHONOPTIMIZE"] == "2" and unit["CacheDirectory"] == ["lobby"]
    assert environment["PYTHONPYCACHEPREFIX"].startswith("/var/cache/lobby/")
    assert environment["GLIBC_TUNABLES"] == GATEWAY_TUNABLES


# Blocks of 16 to 1,008 bytes, seven of each, allocated and freed by one thread: what glibc's
# heap still counts as in use after (mallinfo2; blocks a thread's tcache keeps count as in use).
FREED_BUT_KEPT = """
import ctypes
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
blocks = [0] * (63 * 7)
before = libc.mallinfo2().uordblks
for i in range(len(blocks)):
    blocks[i] = libc.malloc(16 + 16 * (i // 7))
for block in blocks:
    libc.free(block)
print(libc.mallinfo2().uordblks - before)
"""
GATEWAY_TUNABLES = "glibc.malloc.tcache_count=0"


@pytest.mark.skipif(not Path("/proc/self/maps").read_text().count("libc.so.6"), reason="glibc only")
def test_the_gateways_glibc_tunables_take_effect() -> None:
    """The unit's GLIBC_TUNABLES (a misspelt tunable is ignored without a word): with it, what a
    thread frees goes back to the shared heap instead of staying in that thread's cache."""
    def kept(env: dict[str, str]) -> int:
        done = subprocess.run([sys.executable, "-c", FREED_BUT_KEPT], env=env, capture_output=True, text=True,
                              check=True, timeout=60)
        return int(done.stdout)

    plain = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    assert kept(plain) > 100_000  # the default: the thread's cache keeps 7 x 63 blocks (about 220 KB)
    assert kept({**plain, "GLIBC_TUNABLES": GATEWAY_TUNABLES}) < 16_384


def test_kiosk_unit_owns_tty1_and_reaches_its_devices() -> None:
    unit = _unit("lobby-kiosk.service")
    assert unit["TTYPath"] == ["/dev/tty1"] and unit["Conflicts"] == ["getty@tty1.service"]
    assert unit["ExecStart"] == ["/opt/lobby/bin/lobby kiosk --config /etc/lobby/lobby.toml"]
    allowed = " ".join(unit["DeviceAllow"])
    for device in ("char-drm", "char-input", "char-ttyUSB", "char-usb_device", "/dev/tty1"):
        assert device in allowed
    assert {"video", "render", "input"} <= set(unit["SupplementaryGroups"][0].split())


def test_timers_run_daily_and_catch_up() -> None:
    for timer in ("lobby-purge.timer", "lobby-backup.timer"):
        unit = _unit(timer)
        assert unit["Persistent"] == ["true"] and unit["OnCalendar"][0].startswith("*-*-* ")


def test_long_running_units_never_give_up_and_every_death_is_recorded() -> None:
    for name in ("lobby-gateway.service", "lobby-kiosk.service"):
        unit = _unit(name)
        # StartLimitIntervalSec=0: no start limit; a fixed delay (systemd 252 has no RestartSteps=)
        assert unit["StartLimitIntervalSec"] == ["0"] and "StartLimitBurst" not in unit, name
        assert unit["Restart"] == ["always"] and int(unit["RestartSec"][0]) >= 5, name
        assert not {"RestartSteps", "RestartMaxDelaySec", "StartLimitAction", "FailureAction"} & unit.keys(), name
    for name in SERVICES:
        assert _unit(name)["OnFailure"] == ["lobby-failed@%n.service"], name
    recorder = _unit("lobby-failed@.service")
    assert recorder["Type"] == ["oneshot"] and recorder["User"] == ["lobby"]
    assert recorder["ExecStart"] == ["/opt/lobby/bin/lobby unit-failed --config /etc/lobby/lobby.toml %i"]
    assert "OnFailure" not in recorder  # a failing recorder never starts another one
    watchdog = _unit("system.conf.d/lobby-watchdog.conf")
    assert watchdog["RuntimeWatchdogSec"] == ["15s"]  # the bcm2835 watchdog counts to about 15 s
