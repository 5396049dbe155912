"""A simulated RS-485 line on a pseudo-terminal, with several meters on it (multi-drop).

A pty moves bytes instantly, so the line keeps wire time itself: a request is
taken to end ``bytes x bits_per_char / baud`` after its first byte arrived, a
meter starts answering its reply delay after that, and the reply is released
byte by byte at the moment its last bit would have crossed the wire. One writer
serialises replies, as one pair of wires would.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import random
import select
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from drivers.meters import cjt188, dlt645, modbus_rtu
from drivers.meters.errors import FrameError, TruncatedFrame
from drivers.meters.serial_settings import SerialSettings
from drivers.sim.pty import PtyEndpoint

from drivers.meters.sim.devices import SimMeter, close_thread_loop
from drivers.meters.sim.faults import Fault, FaultSpec

log = logging.getLogger(__name__)

PARSERS: dict[str, Callable[[bytes], tuple[Any, int]]] = {
    "dlt645": dlt645.parse_frame,
    "cjt188": cjt188.parse_frame,
    "modbus": modbus_rtu.parse_request,
}


class SimBus:
    """In-process API: ``start``/``stop``, ``set_value``, ``set_fault``, ``close_port``/``open_port``."""

    def __init__(self, link: str | os.PathLike[str], settings: SerialSettings | str = SerialSettings(),
                 devices: Iterable[SimMeter] = (), *, seed: int | None = None) -> None:
        self.link = Path(link)
        self.settings = SerialSettings.parse(settings) if isinstance(settings, str) else settings
        self._devices: dict[str, SimMeter] = {}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._endpoint: PtyEndpoint | None = None
        self._running = False
        self._threads: list[threading.Thread] = []
        self._rx = bytearray()
        self._rx_first = 0.0
        self._rx_last = 0.0
        self._pending: list[tuple[float, int, str, bytes]] = []
        self._seq = itertools.count()
        self._line_free_at = 0.0
        self.requests: Counter[str] = Counter()  # requests each device was addressed with
        self.replies: Counter[str] = Counter()
        for device in devices:
            self.add(device)

    # --- configuration ---------------------------------------------------------------------------

    def add(self, device: SimMeter) -> SimMeter:
        if device.device_id in self._devices:
            raise ValueError(f"device {device.device_id!r} is already on this line")
        self._devices[device.device_id] = device
        return device

    def device(self, device_id: str) -> SimMeter:
        return self._devices[device_id]

    @property
    def devices(self) -> list[SimMeter]:
        return list(self._devices.values())

    def set_value(self, device_id: str, name: str, value: Any) -> None:
        self._devices[device_id].set_value(name, value)

    def set_fault(self, device_id: str, fault: FaultSpec | Fault | str = Fault.NONE, **params: Any) -> None:
        self._devices[device_id].set_fault(fault, **params)
        log.info("%s: fault %s", device_id, self._devices[device_id].fault)

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> SimBus:
        if self._running:
            return self
        self._running = True
        self.open_port()
        for target, name in ((self._read_loop, "reader"), (self._write_loop, "writer")):
            thread = threading.Thread(target=target, name=f"simbus-{name}-{self.link.name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        with self._wake:
            self._running = False
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads.clear()
        self.close_port()

    def __enter__(self) -> SimBus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port_open(self) -> bool:
        return self._endpoint is not None

    def open_port(self) -> None:
        """Create a fresh pty and point the link at it (a re-plugged USB adapter)."""
        with self._wake:
            if self._endpoint is not None:
                return
            endpoint = PtyEndpoint(self.link)
            os.set_blocking(endpoint.master_fd, False)
            self._endpoint = endpoint
            self._rx.clear()
        log.info("line %s open on %s", self.link, endpoint.slave_name)

    def close_port(self) -> None:
        """Close the pty and remove the link (an unplugged adapter); the master sees I/O errors."""
        with self._wake:
            endpoint, self._endpoint = self._endpoint, None
            self._pending.clear()
            self._rx.clear()
        if endpoint is not None:
            endpoint.close()
            log.info("line %s closed", self.link)

    def bounce_port(self, down_s: float) -> threading.Thread:
        """Close the port now and reopen it ``down_s`` later, without blocking the caller."""
        self.close_port()

        def reopen() -> None:
            time.sleep(down_s)
            if self._running:
                self.open_port()
        thread = threading.Thread(target=reopen, name="simbus-bounce", daemon=True)
        thread.start()
        return thread

    # --- receiving -------------------------------------------------------------------------------

    @property
    def _silence(self) -> float:
        """After this much quiet, bytes that do not make a frame are dropped as noise."""
        return max(3.5 * self.settings.char_time, 0.02)

    def _read_loop(self) -> None:
        try:
            self._receive_until_stopped()
        finally:
            close_thread_loop()

    def _receive_until_stopped(self) -> None:
        while self._running:
            endpoint = self._endpoint
            if endpoint is None:
                time.sleep(0.02)
                continue
            try:
                ready, _, _ = select.select([endpoint.master_fd], [], [], 0.05)
                chunk = os.read(endpoint.master_fd, 4096) if ready else b""
            except (OSError, ValueError):
                continue  # the port was closed under us; the loop picks up the new one
            now = time.monotonic()
            with self._lock:
                if endpoint is not self._endpoint:
                    continue
                if chunk:
                    if not self._rx:
                        self._rx_first = now
                    self._rx += chunk
                    self._rx_last = now
                requests = self._extract(now)
            for protocol, frame, end_of_request in requests:
                self._dispatch(protocol, frame, end_of_request)

    def _protocols(self) -> list[str]:
        return sorted({d.protocol for d in self._devices.values()})

    def _extract(self, now: float) -> list[tuple[str, Any, float]]:
        """Cut complete request frames off the receive buffer (called with the lock held)."""
        found = []
        while self._rx:
            incomplete = False
            for protocol in self._protocols():
                try:
                    frame, size = PARSERS[protocol](bytes(self._rx))
                except TruncatedFrame:
                    incomplete = True
                    continue
                except FrameError:
                    continue
                found.append((protocol, frame, self._rx_first + self.settings.wire_time(size)))
                del self._rx[:size]
                self._rx_first = now
                break
            else:
                if incomplete and now - self._rx_last < self._silence:
                    break
                del self._rx[:1]  # noise, or a fragment the silence has ended
        return found

    def _dispatch(self, protocol: str, frame: Any, end_of_request: float) -> None:
        for device in self._devices.values():
            if device.protocol != protocol:
                continue
            if device.addressed(frame):
                self.requests[device.device_id] += 1
            response = device.respond(frame, self._rng)
            if response is None:
                continue
            reply, delay = response
            self.replies[device.device_id] += 1
            with self._wake:
                heapq.heappush(self._pending, (end_of_request + delay, next(self._seq), device.device_id, reply))
                self._wake.notify_all()

    # --- sending ---------------------------------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            with self._wake:
                while self._running and (not self._pending or self._pending[0][0] > time.monotonic()):
                    timeout = None if not self._pending else self._pending[0][0] - time.monotonic()
                    self._wake.wait(timeout)
                if not self._running:
                    return
                due, _, device_id, reply = heapq.heappop(self._pending)
                endpoint = self._endpoint
            if endpoint is not None:
                self._send_paced(endpoint, reply, max(due, self._line_free_at))

    def _send_paced(self, endpoint: PtyEndpoint, data: bytes, start: float) -> None:
        """Release each byte when its stop bit would have crossed the wire."""
        char = self.settings.char_time
        sent = 0
        while sent < len(data):
            now = time.monotonic()
            due = min(len(data), int((now - start) / char))
            if due > sent:
                if endpoint is not self._endpoint:
                    return  # the port went away mid-reply
                try:
                    os.write(endpoint.master_fd, data[sent:due])
                except OSError as exc:
                    log.debug("dropping reply: %s", exc)
                    return
                sent = due
            if sent < len(data):
                time.sleep(max(0.0, start + (sent + 1) * char - time.monotonic()))
        self._line_free_at = start + len(data) * char
