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

import json
import logging
import os
import socket
import socketserver
import threading
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)


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


class _Handler(socketserver.StreamRequestHandler):
    server: "_Server"

    def handle(self) -> None:
        for line in self.rfile:
            if not line.strip():
                continue
            try:
                reply = handle_request(self.server.sim, json.loads(line))
            except json.JSONDecodeError:
                reply = {"ok": False, "error": "not JSON"}
            self.wfile.write(json.dumps(reply).encode() + b"\n")
            self.wfile.flush()


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, sim: Controllable) -> None:
        self.sim = sim
        super().__init__(path, _Handler)


class ControlServer:
    """Serves the control API for `sim` on the Unix socket at `path`."""

    def __init__(self, sim: Controllable, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if self.path.is_socket():
            self.path.unlink()  # left behind by a killed simulator
        self._server = _Server(str(self.path), sim)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="pn532-control", daemon=True)

    def start(self) -> "ControlServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


class ControlError(RuntimeError):
    """The simulator refused a request."""


class ControlClient:
    """Talks to a simulator's control socket; one connection, reused."""

    def __init__(self, path: str | os.PathLike[str], timeout_s: float = 5.0) -> None:
        self.path = str(path)
        self.timeout_s = timeout_s
        self._sock: socket.socket | None = None
        self._reader: Any = None
        self._lock = threading.Lock()

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self._sock.settimeout(self.timeout_s)
                self._sock.connect(self.path)
                self._reader = self._sock.makefile("rb")
            self._sock.sendall(json.dumps(message).encode() + b"\n")
            line = self._reader.readline()
        if not line:
            self.close()
            raise ConnectionError("simulator closed the control connection")
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise ControlError(reply.get("error", "request failed"))
        return reply

    def present(self, uid: str, tag_type: str = "classic_1k") -> None:
        self.request({"cmd": "present", "uid": uid, "type": tag_type})

    def remove(self) -> None:
        self.request({"cmd": "remove"})

    def status(self) -> dict[str, Any]:
        return self.request({"cmd": "status"})

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
            if self._sock is not None:
                self._sock.close()
            self._sock = self._reader = None

    def __enter__(self) -> "ControlClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
