"""service.restart and system.reboot: central restarts a lobby service or the whole Pi.

Both are answered first and acted on only after the broker acknowledged the answer
(CommandSpec.after_answer), so central always learns that the command was taken
before the link goes away. The action runs `systemctl --no-block restart
lobby-<name>.service` or `systemctl reboot` through SystemActions, which finds
`systemctl` on PATH (tests put a stand-in there). Only the lobby's own services can
be restarted: anything else is refused by name. The `lobby` user is allowed these
two actions, and nothing else, by the polkit rule install.sh puts in
/etc/polkit-1/rules.d/50-lobby.rules.

An answer that never reached the broker (the link dropped) is not acted on; a
repeated id is answered from the command log and not acted on either: central
sends a new command.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

from mqtt_bridge.commands import CommandRejected, CommandSpec
from mqtt_bridge.store import Transaction

log = logging.getLogger(__name__)

SERVICES = {"gateway": "lobby-gateway.service", "kiosk": "lobby-kiosk.service"}


class SystemActions:
    """The seam to systemd: every call is one `systemctl` run, found on PATH when it is made."""

    def __init__(self, systemctl: str = "systemctl") -> None:
        self.systemctl = systemctl

    def _run(self, *args: str) -> None:
        exe = shutil.which(self.systemctl)
        if exe is None:
            log.error("cannot %s: %s is not installed here", " ".join(args), self.systemctl)
            return
        done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            log.error("systemctl %s failed (%d): %s", " ".join(args), done.returncode, done.stderr.strip()[:300])

    def restart(self, unit: str) -> None:
        log.warning("restarting %s as central asked", unit)
        self._run("--no-block", "restart", unit)

    def reboot(self) -> None:
        log.warning("rebooting as central asked")
        self._run("reboot")


def _service_restart(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
    name = data["service"]
    unit = SERVICES.get(name)
    if unit is None:
        raise CommandRejected(f"unknown service {name!r}: only {', '.join(sorted(SERVICES))} can be restarted")
    return {"service": name, "unit": unit, "restarting": True}


def _system_reboot(tx: Transaction, data: dict[str, Any]) -> dict[str, Any]:
    return {"rebooting": True}


def system_specs(actions: SystemActions | None = None) -> dict[str, CommandSpec]:
    actions = actions or SystemActions()
    restart: Callable[[dict[str, Any]], None] = lambda result: actions.restart(result["unit"])  # noqa: E731
    reboot: Callable[[dict[str, Any]], None] = lambda result: actions.reboot()  # noqa: E731
    return {
        "service.restart": CommandSpec(_service_restart, after_answer=restart),
        "system.reboot": CommandSpec(_system_reboot, after_answer=reboot),
    }
