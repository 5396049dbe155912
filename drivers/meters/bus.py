"""One RS-485 line: one serial port, one set of serial settings, every transaction in turn.

Timing of one transaction (``MeterBus._attempt``):

1. wait until the line has been silent for the required gap since the last byte
   seen or sent: Modbus 3.5 character times (1.75 ms above 19200 baud), DL/T 645
   and CJ/T 188 ``frame_gap`` (20 ms by default, the standard's minimum reply
   turnaround); on a line mixing protocols the larger gap of the two;
2. flush the input buffer (late replies, noise), write the request, wake-up FE
   preamble included;
3. the request is on the wire until ``t_write + bytes x bits_per_char / baud``;
   the reply must be complete by then + the device's ``timeout`` + the wire time
   of the longest good reply; bytes are read as they arrive and scanned for a
   valid frame, skipping echo and noise, so a good reply ends the wait at once
   (and so does a complete reply from this device that fails its checksum).

A failed attempt is retried up to ``retries`` times (a refusal is an answer and is
not retried). A device that does not answer is not asked for the rest of that
poll; after ``lost_after`` silent polls it is LOST and is then polled with
exponential backoff, so a dead meter costs the line almost nothing. The port is
opened lazily and reopened with backoff after any failure. ``read`` never raises.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import serial

from drivers.health import DeviceHealth, HealthListener, HealthReporter

from drivers.meters import cjt188
from drivers.meters.device_state import Counters, DeviceState
from drivers.meters.devices import Cjt188Device, DeviceSpec, ModbusDevice
from drivers.meters.exchanges import (
    MAX_BUFFER,
    Answer,
    Exchange,
    FailKind,
    Observation,
    PointDef,
    ScanResult,
    classify,
    plan,
    plan_cjt188,
    plan_dlt645_discovery,
    scan,
)
from drivers.meters.poll import GIVE_UP, PollTally, failure_reason, fallback
from drivers.meters.port import PortError, SerialFactory, SerialPort
from drivers.meters.reading import Reading
from drivers.meters.serial_settings import SerialSettings

log = logging.getLogger(__name__)

DEFAULT_FRAME_GAP = 0.020


@dataclass(frozen=True)
class TransactionTrace:
    """One attempt on the wire, for benchmarks and debugging."""

    device_id: str
    label: str
    attempt: int
    tx_bytes: int
    rx_bytes: int  # the accepted reply frame, wake-up preamble included; 0 if none
    gap_s: float  # silence required before the request
    started: float
    finished: float
    outcome: str  # "ok", "refused" or a FailKind value


@dataclass(frozen=True)
class _Outcome:
    answer: Answer | None
    failures: tuple[Observation, ...]
    attempts: int

    @property
    def last_failure(self) -> Observation:
        return self.failures[-1]


class MeterBus:
    def __init__(
        self,
        port: str,
        settings: SerialSettings | str = SerialSettings(),
        *,
        frame_gap: float = DEFAULT_FRAME_GAP,
        lost_after: int = 3,
        port_retry_initial: float = 0.5,
        port_retry_max: float = 30.0,
        device_retry_initial: float = 5.0,
        device_retry_max: float = 300.0,
        trace: Callable[[TransactionTrace], None] | None = None,
        serial_factory: SerialFactory = serial.Serial,
    ) -> None:
        self.settings = SerialSettings.parse(settings) if isinstance(settings, str) else settings
        self.frame_gap = frame_gap
        self._port = SerialPort(port, self.settings, serial_factory)
        self._lost_after = lost_after
        self._port_retry = (port_retry_initial, port_retry_max)
        self._device_retry = (device_retry_initial, device_retry_max)
        self._trace = trace
        self._lock = threading.RLock()
        self._devices: dict[str, DeviceSpec] = {}
        self._plans: dict[str, list[Exchange]] = {}
        self._states: dict[str, DeviceState] = {}
        self._listeners: list[HealthListener] = []
        self._port_reason = ""
        self._port_retry_at = 0.0
        self._port_backoff = port_retry_initial
        self._last_activity = 0.0
        self._last_protocol = ""

    # --- configuration -----------------------------------------------------------------------

    @property
    def port(self) -> str:
        return self._port.path

    def add(self, device: DeviceSpec) -> None:
        with self._lock:
            if device.device_id in self._devices:
                raise ValueError(f"device {device.device_id!r} is already on this bus")
            if isinstance(device, ModbusDevice) and device.map.default_serial:
                factory = SerialSettings.parse(device.map.default_serial)
                if factory != self.settings:
                    log.info("%s: %s meters ship at %s, this bus runs %s; the meter must be set to match",
                             device.device_id, device.map.name, factory, self.settings)
            state = DeviceState(device.device_id, lost_after=self._lost_after,
                                backoff_initial=self._device_retry[0], backoff_max=self._device_retry[1])
            for listener in self._listeners:
                state.reporter.subscribe(listener)
            self._devices[device.device_id] = device
            self._plans[device.device_id] = plan(device)
            self._states[device.device_id] = state

    @property
    def devices(self) -> list[DeviceSpec]:
        return list(self._devices.values())

    def subscribe(self, listener: HealthListener) -> None:
        """Health changes of every device on this bus, present and future."""
        with self._lock:
            self._listeners.append(listener)
            for state in self._states.values():
                state.reporter.subscribe(listener)

    def reporter(self, device_id: str) -> HealthReporter:
        return self._states[device_id].reporter

    def health(self, device_id: str) -> DeviceHealth:
        return self._states[device_id].health

    def counters(self, device_id: str) -> Counters:
        return self._states[device_id].counters.snapshot()

    def offline_reason(self, device_id: str) -> str | None:
        return self._states[device_id].offline_reason

    @property
    def port_reason(self) -> str:
        """Why the port is down, or "" while it works."""
        return self._port_reason

    # --- polling -------------------------------------------------------------------------------

    def read(self, device: DeviceSpec | str) -> Reading:
        """Poll one device; never raises for anything the line or the meter does."""
        device_id = device if isinstance(device, str) else device.device_id
        spec = self._devices[device_id]
        with self._lock:
            try:
                return self._poll(spec)
            except Exception as exc:  # the host must keep running whatever this driver does
                log.exception("%s: driver error", device_id)
                state = self._states[device_id]
                state.reporter.set(state.health.state, f"driver error: {exc}")
                return self._unavailable(spec, time.monotonic(), f"driver error: {exc}")

    def read_all(self) -> list[Reading]:
        return [self.read(device_id) for device_id in list(self._devices)]

    def discover_dlt645(self, timeout: float = 1.0, preamble: int = 4) -> str | None:
        """Ask the only DL/T 645 meter on the line for its address (broadcast, C=13h)."""
        answer = self._one_shot("discover", "dlt645", timeout, plan_dlt645_discovery(preamble))
        return None if answer is None else str(answer.attributes.get("address"))

    def discover_cjt188(self, meter_type: int = 0x10, timeout: float = 1.0) -> str | None:
        """Read the only CJ/T 188 meter on the line with the broadcast address; return its address."""
        spec = Cjt188Device(device_id="discover", address=cjt188.BROADCAST_ADDRESS, meter_type=meter_type)
        answer = self._one_shot("discover", "cjt188", timeout, plan_cjt188(spec)[0])
        return None if answer is None else str(answer.attributes.get("meter_address"))

    def close(self) -> None:
        with self._lock:
            self._port.close()

    def __enter__(self) -> MeterBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals -----------------------------------------------------------------------------

    def _one_shot(self, device_id: str, protocol: str, timeout: float, ex: Exchange) -> Answer | None:
        with self._lock:
            if self._ensure_port(time.monotonic()):
                return None
            answer, failure = self._attempt(device_id, protocol, timeout, ex, 1)
            if failure is not None and failure.kind is FailKind.PORT:
                self._port_failed(failure.detail, time.monotonic())
            if answer is None or answer.refusal:
                return None
            return answer

    def _points(self, device_id: str) -> list[PointDef]:
        return [p for ex in self._plans[device_id] for p in ex.points]

    def _poll(self, spec: DeviceSpec) -> Reading:
        state = self._states[spec.device_id]
        started = time.monotonic()
        port_reason = self._ensure_port(started)
        if port_reason:
            return self._unavailable(spec, started, port_reason)
        if state.backing_off(started):
            state.counters.skipped_polls += 1
            return self._unavailable(spec, started, state.health.reason)

        tally = PollTally()
        exchanges = self._plans[spec.device_id]
        for index, ex in enumerate(exchanges):
            outcome = self._exchange(spec, state, ex)
            answer = outcome.answer
            if answer is not None and answer.refusal is None:
                tally.answered(ex, answer, outcome.failures)
            elif answer is not None:
                tally.refused(ex, answer.refusal or "")
            elif outcome.last_failure.kind is FailKind.PORT:
                self._port_failed(outcome.last_failure.detail, time.monotonic())
                return self._unavailable(spec, started, self._port_reason)
            else:
                reason = failure_reason(outcome.last_failure, ex, spec.timeout, outcome.attempts)
                tally.failed(ex, reason)
                if outcome.last_failure.kind in GIVE_UP:
                    # Silence, noise or the wrong meter: the rest of this poll would only burn line time.
                    tally.not_asked(exchanges[index + 1 :], reason)
                    break
        values = tally.settle(state, self._points(spec.device_id))
        return Reading(spec.device_id, spec.protocol, values, state.health, started,
                       time.monotonic() - started, dict(tally.attributes))

    def _unavailable(self, spec: DeviceSpec, started: float, reason: str) -> Reading:
        state = self._states[spec.device_id]
        values = {p.name: fallback(state, p, reason) for p in self._points(spec.device_id)}
        return Reading(spec.device_id, spec.protocol, values, state.health, started,
                       time.monotonic() - started, {})

    def _exchange(self, spec: DeviceSpec, state: DeviceState, ex: Exchange) -> _Outcome:
        failures: list[Observation] = []
        attempts = 1 + spec.retries
        for attempt in range(1, attempts + 1):
            answer, failure = self._attempt(spec.device_id, spec.protocol, spec.timeout, ex, attempt)
            if answer is not None:
                if answer.refusal:
                    state.counters.count(FailKind.EXCEPTION)
                else:
                    state.counters.ok += 1
                return _Outcome(answer, tuple(failures), attempt)
            assert failure is not None
            state.counters.count(failure.kind)
            failures.append(failure)
            log.debug("%s: %s attempt %d failed: %s", spec.device_id, ex.label, attempt, failure.detail)
            if failure.kind is FailKind.PORT:
                return _Outcome(None, tuple(failures), attempt)
            if attempt < attempts:
                state.counters.retries += 1
        return _Outcome(None, tuple(failures), attempts)

    def _gap(self, protocol: str) -> float:
        def gap(p: str) -> float:
            return self.settings.modbus_t35 if p == "modbus" else self.frame_gap
        return max(gap(protocol), gap(self._last_protocol)) if self._last_protocol else gap(protocol)

    def _attempt(self, device_id: str, protocol: str, timeout: float, ex: Exchange,
                 attempt: int) -> tuple[Answer | None, Observation | None]:
        """One request on the wire and the wait for its reply; no retries here."""
        gap = self._gap(protocol)
        wait = self._last_activity + gap - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_protocol = protocol
        started = time.monotonic()
        try:
            self._port.discard_input()
            started = time.monotonic()
            self._port.write(ex.request)
            tx_end = started + self.settings.wire_time(len(ex.request))
            deadline = tx_end + timeout + self.settings.wire_time(ex.reply_budget)
            result, received, last_rx = self._receive(ex, deadline)
        except PortError as exc:
            self._last_activity = time.monotonic()
            self._record(device_id, ex, attempt, 0, gap, started, FailKind.PORT.value)
            return None, Observation(FailKind.PORT, str(exc))
        self._last_activity = max(tx_end, last_rx)
        if result.answer is not None:
            outcome = "refused" if result.answer.refusal else "ok"
            self._record(device_id, ex, attempt, result.end - result.start, gap, started, outcome)
            return result.answer, None
        failure = classify(result, received)
        self._record(device_id, ex, attempt, 0, gap, started, failure.kind.value)
        return None, failure

    def _receive(self, ex: Exchange, deadline: float) -> tuple[ScanResult, int, float]:
        """Read until the answer (or our meter's rejected reply) is in, or the deadline passes."""
        buf = bytearray()
        result = ScanResult(None)
        last_rx = 0.0
        while True:
            chunk = self._port.read(deadline)
            if not chunk:
                return result, len(buf), last_rx
            buf += chunk
            last_rx = time.monotonic()
            if len(buf) > MAX_BUFFER:  # a meter that never stops talking
                del buf[: len(buf) - MAX_BUFFER // 2]
            result = scan(bytes(buf), ex)
            if result.answer is not None or result.final:
                return result, len(buf), last_rx

    def _record(self, device_id: str, ex: Exchange, attempt: int, rx_bytes: int, gap: float,
                started: float, outcome: str) -> None:
        if self._trace is None:
            return
        trace = TransactionTrace(device_id, ex.label, attempt, len(ex.request), rx_bytes, gap,
                                 started, time.monotonic(), outcome)
        try:
            self._trace(trace)
        except Exception:
            log.exception("transaction trace callback failed")

    def _ensure_port(self, now: float) -> str:
        """Open the port if it is due; return "" when it is open, else why it is not."""
        if self._port.is_open:
            return ""
        if self._port_reason and now < self._port_retry_at:
            return self._port_reason
        try:
            self._port.open()
        except PortError as exc:
            self._port_failed(str(exc), now)
            return self._port_reason
        if self._port_reason:
            log.info("serial port %s is back", self._port.path)
        self._port_reason = ""
        self._port_backoff = self._port_retry[0]
        self._last_activity = time.monotonic()
        return ""

    def _port_failed(self, detail: str, now: float) -> None:
        self._port.close()
        reason = f"serial port {self._port.path} unavailable: {detail} (check the USB adapter and cable)"
        if reason != self._port_reason:
            log.warning("%s; retrying in %.1f s", reason, self._port_backoff)
        self._port_reason = reason
        self._port_retry_at = now + self._port_backoff
        self._port_backoff = min(self._port_backoff * 2, self._port_retry[1])
        for state in self._states.values():
            state.port_down(reason)
