"""What a check is, what it returns, and what it may look at."""

from __future__ import annotations

import enum
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lobby.config import Config


class Status(str, enum.Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass
class Result:
    check: str  # e.g. "meter elec-lobby"
    status: Status
    message: str  # one or two plain sentences: what was found
    fix: str = ""  # what to do about it (empty when nothing is wrong)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "status": self.status.value, "message": self.message, "fix": self.fix,
                "details": self.details, "seconds": round(self.seconds, 3)}


def ok(check: str, message: str, **details: Any) -> Result:
    return Result(check, Status.OK, message, details=details)


def warn(check: str, message: str, fix: str = "", **details: Any) -> Result:
    return Result(check, Status.WARN, message, fix, details)


def fail(check: str, message: str, fix: str = "", **details: Any) -> Result:
    return Result(check, Status.FAIL, message, fix, details)


def skip(check: str, message: str, **details: Any) -> Result:
    return Result(check, Status.SKIP, message, details=details)


@dataclass
class Context:
    cfg: Config
    config_path: Path
    devices: str = "auto"  # auto: leave devices alone that a running service owns; yes; no

    def service_active(self, unit: str) -> bool:
        """Whether a lobby systemd service is running on this machine (False without systemd)."""
        return _service_active(unit)

    def device_probe_blocked(self, owner: str) -> str | None:
        """Why a device owned by `owner` (gateway or kiosk) must not be opened now, or None."""
        if self.devices == "no":
            return "device checks were switched off (--devices no)"
        if self.devices == "yes":
            return None
        unit = f"lobby-{owner}.service"
        if self.service_active(unit):
            return (f"{unit} is running and has this device open; stop it to test the device itself "
                    f"(sudo systemctl stop {unit}), or see the device's health on the staff screen")
        return None


def _service_active(unit: str) -> bool:
    if not os.path.isdir("/run/systemd/system") or shutil.which("systemctl") is None:
        return False
    try:
        done = subprocess.run(["systemctl", "is-active", "--quiet", unit], timeout=3)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@dataclass(frozen=True)
class Check:
    """One check to run: `run` returns its result lines and must finish within `timeout_s`.

    `timeout_message` is the line shown when it does not (plain words, with the fix).
    """

    name: str
    run: Callable[[Context], list[Result]]
    timeout_s: float
    timeout_message: str = ""
    timeout_fix: str = ""
