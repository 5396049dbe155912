"""The Pi itself: power, SD card and file system, and which build on which boot.

Read each health report, each source a path or a command that tests replace with
fixture files (PlatformSources):

- power: the firmware's throttled flags, from the sysfs file the firmware driver
  offers (`get_throttled`, hex) or `vcgencmd get_throttled` ("throttled=0x50005").
  Bits 0 under-voltage, 1 ARM frequency capped, 2 throttled, 3 soft temperature
  limit, now; bits 16-19 the same, at some time since boot.
- storage errors: new kernel log lines from the SD card (mmc0/mmcblk0), ext4
  (`EXT4-fs error`) and the block layer (`I/O error`), from /dev/kmsg (read without
  blocking) or `journalctl -k -b`.
- a read-only file system under the state dir (/proc/self/mountinfo): the kernel
  remounts ext4 read-only after errors (errors=remount-ro).
- the build id (the release folder this runs from) and the boot id.

Each problem is a retained alert with what to do in plain words, cleared when it goes.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mqtt_bridge.alerts import AlertEngine, Severity
from mqtt_bridge.timebase import BOOT_ID
from mqtt_bridge.version import VERSION

UNDERVOLTAGE_KEY = "power.undervoltage"
THROTTLED_KEY = "power.throttled"
STORAGE_ERRORS_KEY = "storage.errors"
READ_ONLY_KEY = "storage.read_only"
STORAGE_QUIET_REPORTS = 60  # storage.errors clears after this many reports without a new error line

FLAGS = {0: "undervoltage", 1: "arm_freq_capped", 2: "throttled", 3: "soft_temp_limit"}
SINCE_BOOT_SHIFT = 16
THROTTLED_SYSFS = "/sys/devices/platform/soc/soc:firmware/get_throttled"

# The most precise kind first: an ext4 or block-layer line names the mmcblk device too.
_STORAGE = [("ext4", re.compile(r"EXT4-fs error")), ("io", re.compile(r"I/O error")),
            ("mmc", re.compile(r"\bmmc(?:blk)?\d"))]
_KMSG = re.compile(r"^\d+,(\d+),\d+,[^;]*;")
_STORAGE_NOISE = re.compile(r"new (?:high speed |ultra high speed )?SD\w* card|mmc\d: host does not support|"
                            r"mmcblk\d: mmc\d:\w+ \w+ [\d.]+ [GM]iB|mmcblk\dp?\d*:? p\d")


def parse_throttled(text: str) -> int:
    """The flags from `vcgencmd get_throttled` ("throttled=0x50005") or the sysfs file ("50005", hex)."""
    value = text.strip().rpartition("=")[2].strip()
    if not value:
        raise ValueError("no throttled value")
    return int(value, 16)


def decode_throttled(value: int) -> dict[str, Any]:
    """Each flag now and since boot, plus the raw value as the firmware gives it."""
    out: dict[str, Any] = {"raw": f"0x{value:x}"}
    for bit, name in FLAGS.items():
        out[f"{name}_now"] = bool(value >> bit & 1)
        out[f"{name}_since_boot"] = bool(value >> (bit + SINCE_BOOT_SHIFT) & 1)
    return out


def storage_errors(lines: list[str]) -> dict[str, int]:
    """Kernel log lines counted by kind (mmc, ext4, io); card insertion notices are not errors."""
    counts = {kind: 0 for kind, _ in _STORAGE}
    for line in lines:
        message = line.split(";", 1)[1] if _KMSG.match(line) else line  # /dev/kmsg records
        if _STORAGE_NOISE.search(message):
            continue
        if re.search(r"\bmmc(?:blk)?\d", message) and not re.search(r"error|timeout|fail|I/O", message, re.I):
            continue
        for kind, pattern in _STORAGE:
            if pattern.search(message):
                counts[kind] += 1
                break
    return counts


def mount_of(path: str | os.PathLike[str], mountinfo: str) -> dict[str, Any] | None:
    """The mount holding `path` (longest mount point prefix) and whether it is read-only."""
    target = os.path.realpath(path)
    best: dict[str, Any] | None = None
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) < 10 or "-" not in fields:
            continue
        point = fields[4].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if not inside or (best is not None and len(point) < len(best["mount_point"])):
            continue
        sep = fields.index("-")
        options = set(fields[5].split(",")) | set(fields[sep + 3].split(","))
        best = {"mount_point": point, "fs_type": fields[sep + 1], "device": fields[sep + 2],
                "read_only": "ro" in options}
    return best


def build_id() -> str:
    """The release this runs from (/opt/lobby/releases/<name>), else the package version."""
    prefix = Path(sys.prefix).resolve()
    if prefix.parent.name == "releases":
        return prefix.name
    return os.environ.get("LOBBY_BUILD_ID") or VERSION


@dataclass
class PlatformSources:
    throttled_file: str | None = THROTTLED_SYSFS
    vcgencmd: str | None = "vcgencmd"
    kmsg: str | None = "/dev/kmsg"  # a device read without blocking, or a plain file of lines (tests)
    journalctl: str | None = "journalctl"
    mountinfo: str = "/proc/self/mountinfo"


class PlatformHealth:
    """`check(state_dir)` returns the report's `platform` part and keeps the alerts in step."""

    def __init__(self, alerts: AlertEngine, sources: PlatformSources | None = None) -> None:
        self.alerts = alerts
        self.sources = sources or PlatformSources()
        self._seen_lines = 0  # kernel log lines already counted (the log is read from boot each time)
        self._seen_seq = -1  # the last /dev/kmsg sequence number counted
        self._totals = {kind: 0 for kind, _ in _STORAGE}

    # ------------------------------------------------------------------ reading

    def read_throttled(self) -> int | None:
        src = self.sources
        if src.throttled_file:
            try:
                return parse_throttled(Path(src.throttled_file).read_text())
            except (OSError, ValueError):
                pass
        if src.vcgencmd:
            try:
                done = subprocess.run([src.vcgencmd, "get_throttled"], capture_output=True, text=True, timeout=10,
                                      check=False)
                return parse_throttled(done.stdout) if done.returncode == 0 else None
            except (OSError, subprocess.SubprocessError, ValueError):
                return None
        return None

    def kernel_lines(self) -> list[str] | None:
        """The kernel log since boot, or None when no source can be read."""
        src = self.sources
        if src.kmsg:
            lines = _read_kmsg(src.kmsg)
            if lines is not None:
                return lines
        if src.journalctl:
            try:
                done = subprocess.run([src.journalctl, "-k", "-b", "-o", "cat", "--no-pager", "-q"],
                                      capture_output=True, text=True, timeout=30, check=False)
            except (OSError, subprocess.SubprocessError):
                return None
            return done.stdout.splitlines() if done.returncode == 0 else None
        return None

    # ------------------------------------------------------------------ the report

    def check(self, state_dir: str | os.PathLike[str]) -> dict[str, Any]:
        report: dict[str, Any] = {"build_id": build_id(), "boot_id": BOOT_ID}
        report["power"] = self._power()
        report["storage_errors"] = self._storage()
        report["state_mount"] = self._mount(state_dir)
        return report

    def _power(self) -> dict[str, Any] | None:
        value = self.read_throttled()
        if value is None:
            return None  # not a Pi (or no firmware interface): nothing to say
        flags = decode_throttled(value)
        self.alerts.observe(UNDERVOLTAGE_KEY, flags["undervoltage_now"], severity=Severity.WARNING,
                            title="供电电压不足 Pi power supply too weak", detail={
                                **flags, "fix": "The Pi is getting too little voltage now, which corrupts SD cards. "
                                "Use the official Raspberry Pi power supply (5.1 V, 3 A for a Pi 4; 5 V, 5 A for a Pi 5) "
                                "plugged straight into the Pi, with its own short cable; unplug USB devices that draw "
                                "power or give them a powered hub."})
        throttled = flags["throttled_now"] or flags["arm_freq_capped_now"] or flags["soft_temp_limit_now"]
        self.alerts.observe(THROTTLED_KEY, throttled, severity=Severity.WARNING,
                            title="主机降频 Pi slowed down (throttled)", detail={
                                **flags, "fix": "The Pi has slowed itself down, from heat or weak power. Give it "
                                "air (a case with a fan or heatsink, out of direct sun and away from the plant-room "
                                "heater) and check the power supply."})
        return flags

    def _storage(self) -> dict[str, Any] | None:
        lines = self.kernel_lines()
        if lines is None:
            return None
        new = storage_errors(self._new_lines(lines))
        for kind, count in new.items():
            self._totals[kind] += count
        fresh = sum(new.values())
        self.alerts.observe(STORAGE_ERRORS_KEY, fresh > 0, severity=Severity.CRITICAL,
                            title="存储卡错误 SD card or file system errors", detail={
                                "new": new, "since_boot": dict(self._totals),
                                "fix": "The kernel reports SD card or file system errors: the card is failing. "
                                "Take a backup now (`sudo -u lobby lobby backup`), then replace the SD card with a "
                                "high-endurance one and restore the backup; check the power supply too."},
                            clear_after=STORAGE_QUIET_REPORTS)
        return {"new": new, "since_boot": dict(self._totals)}

    def _new_lines(self, lines: list[str]) -> list[str]:
        """What was not counted before: by sequence number for /dev/kmsg records (its ring buffer
        drops old ones), by position for a log read from boot (journalctl, a file)."""
        seqs = [_KMSG.match(line) for line in lines]
        if lines and all(seqs):
            fresh = [line for line, m in zip(lines, seqs) if m and int(m[1]) > self._seen_seq]
            self._seen_seq = max(int(m[1]) for m in seqs if m)
            return fresh
        if len(lines) < self._seen_lines:  # the log was cleared or rotated: start again
            self._seen_lines = 0
        fresh, self._seen_lines = lines[self._seen_lines:], len(lines)
        return fresh

    def _mount(self, state_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
        try:
            mount = mount_of(state_dir, Path(self.sources.mountinfo).read_text())
        except OSError:
            return None
        if mount is None:
            return None
        self.alerts.observe(READ_ONLY_KEY, mount["read_only"], severity=Severity.CRITICAL,
                            title="存储只读 Storage turned read-only", detail={
                                **mount, "state_dir": str(state_dir),
                                "fix": "The file system holding the store went read-only (the kernel does that "
                                "after disk errors): nothing new is saved. Reboot the Pi once; if it comes back "
                                "read-only or storage errors are reported, replace the SD card and restore the "
                                "latest backup."})
        return mount


def _read_kmsg(path: str) -> list[str] | None:
    """Every record in the kernel's buffer, without waiting for new ones; None if it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    lines: list[str] = []
    try:
        if not stat.S_ISCHR(os.fstat(fd).st_mode):  # a plain file of lines (tests, a saved log)
            with os.fdopen(os.dup(fd), "r", errors="replace") as fh:
                return fh.read().splitlines()
        while True:
            try:
                record = os.read(fd, 8192)
            except BlockingIOError:
                break  # no more records
            except BrokenPipeError:
                continue  # records were overwritten while reading: go on with the next
            except OSError:
                return lines or None
            if not record:
                break
            lines.append(record.decode("utf-8", "replace").rstrip("\n"))
    finally:
        os.close(fd)
    return lines
