"""JSON-lines control API for the PN532 simulator, over a Unix socket.

One request per line, one reply per line:

    {"cmd": "present", "uid": "04A2243B5C6D80", "type": "ntag215"}  -> {"ok": true}
    {"cmd": "remove"}                                             -> {"ok": true}
    {"cmd": "status"}  -> {"ok": true, "link": "...", "tag": {"uid": ..., "type": ...} | null, ...}

Errors come back as {"ok": false, "error": "..."}; the connection stays usable.
Tests, the demo and the kiosk's simulator panel (another process) use
`ControlClient`.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

from drivers.sim import control
from drivers.sim.control import ControlError

__all__ = ["ControlClient", "ControlError", "ControlServer", "handle_request"]


class Controllable(Protocol):
    def present(self, uid: str, tag_type: str = ...) -> None: ...
    def remove(self) -> None: ...
    def status(self) -> dict[str, object]: ...


def handle_request(sim: Controllable, request: Any) -> dict[str, Any]:
    """Apply one decoded request to the simulator and build the reply."""
    if not isinstance(request, dict):
        return {"ok": False, "error": "request must be a JSON object"}
    cmd = request.get("cmd")
    try:
        if cmd == "present":
            uid, tag_type = request.get("uid"), request.get("type", "classic_1k")
            if not isinstance(uid, str) or not isinstance(tag_type, str):
                return {"ok": False, "error": "present needs a string uid and type"}
            sim.present(uid, tag_type)
            return {"ok": True}
        if cmd == "remove":
            sim.remove()
            return {"ok": True}
        if cmd == "status":
            return {"ok": True, **sim.status()}
    except ValueError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": False, "error": f"unknown cmd {cmd!r}"}


class ControlServer(control.ControlServer):
    """Serves the control API for `sim` on the Unix socket at `path`."""

    def __init__(self, sim: Controllable, path: str | os.PathLike[str]) -> None:
        super().__init__(lambda request: handle_request(sim, request), path, name="pn532-control")


class ControlClient(control.ControlClient):
    """Talks to a PN532 simulator's control socket."""

    def present(self, uid: str, tag_type: str = "classic_1k") -> None:
        self.request({"cmd": "present", "uid": uid, "type": tag_type})

    def remove(self) -> None:
        self.request({"cmd": "remove"})

    def status(self) -> dict[str, Any]:
        return self.request({"cmd": "status"})
