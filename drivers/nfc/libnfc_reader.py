"""An NFC reader driven by libnfc (PN532 on UART/I2C/SPI, ACR122U, ...).

How the reader thread works:

* It opens the device (`nfc_open` with the configured connstring), switches it to
  initiator mode and disables infinite select, so every passive activation is
  bounded.
* It polls with `nfc_initiator_poll_target` (on a PN532 this is one InAutoPoll of
  `poll_nr * poll_period * 150 ms` per target type, about 0.3 s by default), then
  checks the stop flag and polls again.
* When a tag is found it names its type (ATQA/SAK/ATS; GET_VERSION for the
  Ultralight family), reports it to the TapTracker and then pings it with
  `nfc_initiator_target_is_present` every `presence_interval_s` until it leaves.
* On an I/O error, or a reader that stops answering, it closes the device, sets
  health to lost with a plain reason and reopens with exponential backoff.

`stop()` sets the stop flag and, if the thread is inside a libnfc call, calls
`nfc_abort_command`, libnfc's own cross-thread abort (for pn532_uart it wakes the
blocked read through a pipe and sends the chip an ACK, which cancels the poll).
A watchdog does the same when one call runs far longer than it can legitimately
take (libnfc waits for ever on InAutoPoll), so a hung reader is detected too.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable, TypeVar

from drivers.health import HealthState
from drivers.nfc import libnfc
from drivers.nfc.base import UID_LENGTHS, Backoff, CardReader, TagEvent
from drivers.nfc.presence import TapTracker
from drivers.nfc.tag_types import classify, needs_version

log = logging.getLogger(__name__)

# libnfc 1.8 drivers; the ones whose second field is a device path come first.
PATH_DRIVERS = ("pn532_uart", "pn532_i2c", "pn532_spi", "arygon", "acr122s")
OTHER_DRIVERS = ("acr122_usb", "pn53x_usb", "acr122_pcsc", "pcsc", "pn71xx")
GET_VERSION = bytes([0x60])
ERRORS_BEFORE_LOST = 3
T = TypeVar("T")


def device_path(connstring: str) -> str | None:
    """The device node a connstring names (`pn532_uart:/dev/ttyS0:115200`), if any."""
    driver, _, rest = connstring.partition(":")
    if driver in PATH_DRIVERS and rest:
        return rest.split(":", 1)[0]
    return None


def validate_connstring(connstring: str) -> str:
    driver = connstring.partition(":")[0]
    if driver not in PATH_DRIVERS + OTHER_DRIVERS:
        raise ValueError(f"unknown libnfc driver {driver!r} in connstring {connstring!r}")
    if driver in PATH_DRIVERS and not device_path(connstring):
        raise ValueError(f"connstring {connstring!r} needs a device path, e.g. {driver}:/dev/ttyS0")
    return connstring


class _ReaderHung(libnfc.NfcError):
    """A call the watchdog had to abort."""


class _Watchdog:
    """Aborts the libnfc call in progress: on request (stop) or when it runs longer
    than its limit. An abort that lands while libnfc is still sending the command is
    lost (only the wait for the reply watches libnfc's abort pipe), so a call may be
    aborted again after ABORT_RETRY_S, at most ABORTS_PER_CALL times: each abort
    costs libnfc's pn532_uart driver one file descriptor until the device is closed."""

    ABORT_RETRY_S = 0.1
    ABORTS_PER_CALL = 5

    def __init__(self, abort: Callable[[], None], on_hang: Callable[[], None]) -> None:
        self._abort, self._on_hang = abort, on_hang
        self._lock = threading.Lock()
        self._deadline: float | None = None
        self._aborts = 0
        self._last_abort = 0.0
        self.tripped = False

    def begin(self, limit_s: float) -> None:
        with self._lock:
            self._deadline = time.monotonic() + limit_s
            self._aborts = 0
            self.tripped = False

    def end(self) -> None:
        with self._lock:
            self._deadline = None

    def abort_current(self, reason: str) -> None:
        with self._lock:
            now = time.monotonic()
            if (self._deadline is None or self._aborts >= self.ABORTS_PER_CALL
                    or (self._aborts and now - self._last_abort < self.ABORT_RETRY_S)):
                return
            self._aborts += 1
            self._last_abort = now
            if reason == "timeout":
                self.tripped = True
        log.debug("aborting libnfc call (%s)", reason)
        self._abort()

    def watch(self, done: threading.Event) -> None:
        while not done.wait(0.2):
            with self._lock:
                late = self._deadline is not None and time.monotonic() > self._deadline
            if late:
                self.abort_current("timeout")
                # Report at once: libnfc cannot abort every wait (pn532_uart waits for
                # the chip's ACK of InAutoPoll without a timeout), so the call may stay blocked.
                self._on_hang()


class LibnfcReader(CardReader):
    """A libnfc card reader, e.g. `LibnfcReader("lobby", "pn532_uart:/dev/ttyS0")`.

    `retap_window_s`: a tag back within this time of leaving is the same
    presentation (no new tap). `poll_period` is in units of 150 ms.
    """

    def __init__(self, reader_id: str, connstring: str, retap_window_s: float = 1.5, *,
                 poll_nr: int = 1, poll_period: int = 1, presence_interval_s: float = 0.1,
                 backoff_first_s: float = 0.5, backoff_cap_s: float = 10.0,
                 call_limit_s: float = 3.0) -> None:
        super().__init__(reader_id)
        self.connstring = validate_connstring(connstring)
        self.poll_nr, self.poll_period = poll_nr, poll_period
        self.presence_interval_s = presence_interval_s
        self.call_limit_s = call_limit_s
        self._tracker = TapTracker(reader_id, retap_window_s)
        self._backoff = Backoff(backoff_first_s, backoff_cap_s)
        self._device: libnfc.Device | None = None
        self._device_lock = threading.Lock()
        self._watchdog = _Watchdog(self._abort_device,
                                   lambda: self._set_health(HealthState.LOST, "reader stopped answering"))
        self._errors = 0

    # -- CardReader ------------------------------------------------------------
    def _interrupt(self) -> None:
        self._watchdog.abort_current("stop")

    def _run(self) -> None:
        done = threading.Event()
        watchdog = threading.Thread(target=self._watchdog.watch, args=(done,),
                                    name=f"reader-{self.reader_id}-watchdog", daemon=True)
        watchdog.start()
        context = libnfc.Context()
        try:
            while not self._stop_event.is_set():
                device = self._open(context)
                if device is not None:
                    try:
                        self._serve(device)
                    except libnfc.NfcError as exc:
                        self._device_failed(exc)
                    finally:
                        self._close(device)
                if not self._stop_event.is_set():
                    self._wait(self._backoff.next_delay())
        finally:
            self._close_presentation()
            context.close()
            done.set()
            watchdog.join(1.0)

    # -- opening and closing ------------------------------------------------------
    def _open(self, context: libnfc.Context) -> libnfc.Device | None:
        path = device_path(self.connstring)
        if path is not None and not os.path.exists(path):
            self._set_health(HealthState.LOST, f"port {path} not found")
            return None
        try:
            device = self._call(lambda: context.open(self.connstring))
            with self._device_lock:
                self._device = device
            self._call(device.initiator_init)
        except libnfc.NfcError:
            if self._device is not None:
                self._close(self._device)
            self._set_health(HealthState.LOST, self._open_failure_reason(path))
            return None
        log.info("reader %s: opened %s", self.reader_id, self.connstring)
        self._backoff.reset()
        self._errors = 0
        self._set_health(HealthState.OK)
        return device

    def _open_failure_reason(self, path: str | None) -> str:
        if path is None:
            return f"reader {self.connstring} not found"
        if not os.access(path, os.R_OK | os.W_OK):
            return f"no permission to open {path}"
        return f"reader not answering on {path}"

    def _close(self, device: libnfc.Device) -> None:
        with self._device_lock:
            self._device = None  # no abort() may reach a closed device
        try:
            self._call(device.close)
        except libnfc.NfcError:
            pass

    def _abort_device(self) -> None:
        with self._device_lock:
            if self._device is not None:
                self._device.abort()

    def _call(self, func: Callable[[], T]) -> T:
        """Run one libnfc call under the watchdog; a call it had to abort is a failure."""
        failure: libnfc.NfcError | None = None
        self._watchdog.begin(self.call_limit_s)
        try:
            result = func()
        except libnfc.NfcError as exc:
            failure = exc
        finally:
            self._watchdog.end()
        if self._watchdog.tripped:
            raise _ReaderHung(libnfc.NFC_ETIMEOUT, "reader stopped answering") from failure
        if failure is not None:
            raise failure
        return result

    # -- serving ------------------------------------------------------------------
    def _serve(self, device: libnfc.Device) -> None:
        """Poll until stopped. Transient errors degrade health; an I/O error, a hung
        reader or ERRORS_BEFORE_LOST errors in a row end the session (NfcError)."""
        while not self._stop_event.is_set():
            try:
                self._cycle(device)
            except libnfc.NfcError as exc:
                self._errors += 1
                if (self._stop_event.is_set() or isinstance(exc, _ReaderHung)
                        or exc.code == libnfc.NFC_EIO or self._errors >= ERRORS_BEFORE_LOST):
                    raise
                log.debug("reader %s: transient error: %s", self.reader_id, exc)
                self._set_health(HealthState.DEGRADED, "reader errors, retrying")
                self._stop_event.wait(0.1)

    def _cycle(self, device: libnfc.Device) -> None:
        """One poll and, if a tag came, its whole stay in the field."""
        self._emit_all(self._tracker.expire(time.monotonic()))
        target = self._call(lambda: device.poll(self.poll_nr, self.poll_period))
        self._healthy()
        if target is None or self._stop_event.is_set():
            self._emit_all(self._tracker.absent(time.monotonic()))
            return
        seen_at = time.monotonic()
        uid_hex, tag_type = self._identify(device, target)
        if uid_hex is None:
            return
        self._emit_all(self._tracker.seen(uid_hex, tag_type, seen_at))
        self._hold(device, target)

    def _identify(self, device: libnfc.Device, target: libnfc.TargetInfo) -> tuple[str | None, str]:
        if len(target.uid) not in UID_LENGTHS:
            log.debug("reader %s: ignoring target with %d-byte UID", self.reader_id, len(target.uid))
            return None, "unknown"
        version = None
        if needs_version(target.atqa, target.sak):
            try:
                version = self._call(lambda: device.transceive(GET_VERSION, max_reply=8))
            except libnfc.NfcError as exc:
                if not exc.tag_gone:
                    raise
                # A plain Ultralight rejects GET_VERSION and drops to idle: select it again.
                self._call(lambda: device.select(target.uid))
        return target.uid.hex().upper(), classify(target.atqa, target.sak, target.ats, version)

    def _hold(self, device: libnfc.Device, target: libnfc.TargetInfo) -> None:
        """Ping the tag until it leaves (or we are stopped)."""
        while not self._stop_event.wait(self.presence_interval_s):
            try:
                present = self._call(device.target_is_present)
            except libnfc.NfcError as exc:
                if exc.code not in (libnfc.NFC_EDEVNOTSUPP, libnfc.NFC_EINVARG):
                    raise
                # libnfc cannot ping this kind of tag: select it by UID instead.
                present = self._call(lambda: device.select(target.uid)) is not None
            self._healthy()
            if not present:
                self._emit_all(self._tracker.absent(time.monotonic()))
                return

    # -- health and events ----------------------------------------------------------
    def _healthy(self) -> None:
        self._errors = 0
        self._set_health(HealthState.OK)

    def _device_failed(self, exc: libnfc.NfcError) -> None:
        if self._stop_event.is_set():
            return
        log.debug("reader %s: %s", self.reader_id, exc)
        self._emit_all(self._tracker.absent(time.monotonic()))
        path = device_path(self.connstring)
        if path is not None and not os.path.exists(path):
            self._set_health(HealthState.LOST, f"port {path} vanished")
        elif exc.code == libnfc.NFC_EIO:
            self._set_health(HealthState.LOST, "reader disconnected (I/O error)")
        else:
            self._set_health(HealthState.LOST, "reader stopped answering")

    def _wait(self, delay_s: float) -> None:
        """Sleep for a backoff delay, still closing a presentation when it is due."""
        deadline = time.monotonic() + delay_s
        while not self._stop_event.is_set():
            now = time.monotonic()
            if now >= deadline:
                return
            until_expiry = self._tracker.seconds_until_expiry(now)
            step = deadline - now if until_expiry is None else min(deadline - now, until_expiry + 0.01)
            if self._stop_event.wait(step):
                return
            self._emit_all(self._tracker.expire(time.monotonic()))

    def _close_presentation(self) -> None:
        """On stop, end a presentation in progress so taps and removals pair up."""
        now = time.monotonic()
        self._tracker.absent(now)
        self._emit_all(self._tracker.expire(now + self._tracker.retap_window_s))

    def _emit_all(self, events: list[TagEvent]) -> None:
        for event in events:
            self._emit(event)
