"""The one serial port of a bus, wrapped so every failure is a PortError with a reason."""

from __future__ import annotations

import logging
import select
import termios
import time
from collections.abc import Callable

import serial

from drivers.meters.serial_settings import SerialSettings

log = logging.getLogger(__name__)

_PORT_ERRORS = (serial.SerialException, OSError, termios.error, ValueError)


class PortError(Exception):
    """The port cannot be opened or has failed (adapter unplugged, pty closed...)."""


SerialFactory = Callable[..., serial.Serial]


class SerialPort:
    def __init__(self, path: str, settings: SerialSettings,
                 factory: SerialFactory = serial.Serial) -> None:
        self.path = path
        self.settings = settings
        self._factory = factory
        self._ser: serial.Serial | None = None

    @property
    def is_open(self) -> bool:
        return self._ser is not None

    def open(self) -> None:
        if self._ser is not None:
            return
        try:
            # timeout=0: reads never block inside pyserial; we wait with select() ourselves.
            self._ser = self._factory(port=self.path, timeout=0, write_timeout=2.0,
                                      exclusive=True, **self.settings.pyserial_kwargs())
        except _PORT_ERRORS as exc:
            raise PortError(f"cannot open {self.path}: {exc}") from exc
        log.info("opened %s at %s", self.path, self.settings)

    def close(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            try:
                ser.close()
            except _PORT_ERRORS as exc:
                log.debug("closing %s: %s", self.path, exc)

    def _require(self) -> serial.Serial:
        if self._ser is None:
            raise PortError(f"{self.path} is not open")
        return self._ser

    def discard_input(self) -> None:
        """Drop whatever is waiting: late replies and noise from the last transaction."""
        ser = self._require()
        try:
            ser.reset_input_buffer()  # tcflush: bounded even if a broken meter never stops talking
        except _PORT_ERRORS as exc:
            raise PortError(f"{self.path} failed: {exc}") from exc

    def write(self, data: bytes) -> None:
        ser = self._require()
        try:
            written = ser.write(data)
        except _PORT_ERRORS as exc:
            raise PortError(f"{self.path} failed while sending: {exc}") from exc
        if written != len(data):
            raise PortError(f"{self.path} sent only {written} of {len(data)} bytes")

    def read(self, deadline: float) -> bytes:
        """Whatever arrives before ``deadline`` (monotonic); b"" if nothing did."""
        ser = self._require()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b""
        try:
            ready, _, _ = select.select([ser.fileno()], [], [], remaining)
            if not ready:
                return b""
            # pyserial raises if the port reports readiness but has no data: the device is gone.
            return ser.read(max(1, ser.in_waiting))
        except _PORT_ERRORS as exc:
            raise PortError(f"{self.path} failed while receiving: {exc}") from exc
