"""A small TCP proxy between the gateway and the broker, for link chaos.

Modes: forward (normal), cut (close every connection: the peer sees a reset or
EOF at once, and new connections are refused), and blackhole (connections stay
open but bytes are swallowed in both directions, so only keepalive notices).
"""

from __future__ import annotations

import selectors
import socket
import threading
from dataclasses import dataclass, field

from .broker import free_port


@dataclass
class _Pair:
    client: socket.socket
    upstream: socket.socket


@dataclass
class TcpProxy:
    target_port: int
    port: int = field(default_factory=free_port)
    mode: str = "forward"
    _pairs: list[_Pair] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    connections: int = 0

    def start(self) -> "TcpProxy":
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen(64)
        self._listener.settimeout(0.1)
        self._accept_thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._pump_thread = threading.Thread(target=self._pump_loop, daemon=True)
        self._accept_thread.start()
        self._pump_thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self.cut()
        self._accept_thread.join(2)
        self._pump_thread.join(2)
        self._listener.close()

    # ------------------------------------------------------------------ chaos

    def cut(self) -> None:
        """Reset every open connection now; stay in 'cut' mode until restored."""
        self.mode = "cut"
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in (pair.client, pair.upstream):
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    sock.close()
                except OSError:
                    pass

    def blackhole(self) -> None:
        self.mode = "blackhole"

    def restore(self) -> None:
        if self.mode == "blackhole":
            self.cut()  # swallowed bytes broke the stream: start clean
        self.mode = "forward"

    # ------------------------------------------------------------------ plumbing

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            if self.mode == "cut":
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._pairs.append(_Pair(client, upstream))
                self.connections += 1

    def _pump_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                pairs = list(self._pairs)
            if not pairs:
                self._stop.wait(0.005)
                continue
            selector = selectors.DefaultSelector()
            for pair in pairs:
                try:
                    selector.register(pair.client, selectors.EVENT_READ, (pair, pair.upstream))
                    selector.register(pair.upstream, selectors.EVENT_READ, (pair, pair.client))
                except (ValueError, OSError):
                    continue
            try:
                ready = selector.select(timeout=0.02)
            except OSError:
                ready = []
            for key, _ in ready:
                pair, other = key.data
                try:
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    self._drop(pair)
                    continue
                if self.mode != "forward":
                    continue  # swallowed
                self._forward(pair, other, data)
            selector.close()

    def _forward(self, pair: _Pair, other: socket.socket, data: bytes) -> None:
        """Send bytes on (`other is pair.client`: from the broker to the client). A subclass may
        hold them back and send them later with `_send`."""
        self._send(pair, other, data)

    def _send(self, pair: _Pair, other: socket.socket, data: bytes) -> None:
        try:
            other.sendall(data)
        except BlockingIOError:
            other.setblocking(True)
            try:
                other.sendall(data)
            except OSError:
                self._drop(pair)
            finally:
                other.setblocking(False)
        except OSError:
            self._drop(pair)

    def _drop(self, pair: _Pair) -> None:
        with self._lock:
            if pair in self._pairs:
                self._pairs.remove(pair)
        for sock in (pair.client, pair.upstream):
            try:
                sock.close()
            except OSError:
                pass
