"""A JSON-lines control channel over a Unix socket, shared by the simulators.

One request per line, one reply per line; a reply is {"ok": true, ...} or
{"ok": false, "error": "..."} and the connection stays usable after an error.
Tests, the demo and the kiosk's on-screen simulator panel (other processes) use
it to present cards and press buttons.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RequestHandler = Callable[[Any], dict[str, Any]]


class _Handler(socketserver.StreamRequestHandler):
    server: "_Server"

    def handle(self) -> None:
        for line in self.rfile:
            if not line.strip():
                continue
            try:
                reply = self.server.respond(json.loads(line))
            except json.JSONDecodeError:
                reply = {"ok": False, "error": "not JSON"}
            except Exception as exc:  # a bad request must not kill the simulator
                log.exception("control request failed")
                reply = {"ok": False, "error": f"internal error: {type(exc).__name__}"}
            self.wfile.write(json.dumps(reply).encode() + b"\n")
            self.wfile.flush()


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, respond: RequestHandler) -> None:
        self.respond = respond
        super().__init__(path, _Handler)


class ControlServer:
    """Serves `respond(request) -> reply` on the Unix socket at `path`."""

    def __init__(self, respond: RequestHandler, path: str | os.PathLike[str], name: str = "sim-control") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_socket():
            self.path.unlink()  # left behind by a killed simulator
        self._server = _Server(str(self.path), respond)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=name, daemon=True)

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
    """Talks to a control socket; one connection, reused."""

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
