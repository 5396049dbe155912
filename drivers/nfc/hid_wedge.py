"""A USB HID "keyboard wedge" card reader, read through evdev.

The reader's input device is grabbed (EVIOCGRAB) so the digits it types never
reach the kiosk's screen or any other program. The thread waits in select() on
the device and on a wake-up pipe, so `stop()` returns at once. A wedge cannot
tell when a card leaves, so this reader sends only "tap" events, with tag_type
"unknown"; a repeat of the same UID within `retap_window_s` of its last read
(wedges re-type a card that stays on them) is not a new tap.

If the device is unplugged (ENODEV) or cannot be found or grabbed, health goes
to lost and the thread looks for it again with exponential backoff.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import time
from typing import Callable, Iterable, Protocol

from evdev import InputEvent

from drivers.health import HealthState
from drivers.nfc.base import Backoff, CardReader, TagEvent
from drivers.nfc.wedge_decoder import ByteOrder, UidFormat, WedgeDecoder

log = logging.getLogger(__name__)


class InputDeviceLike(Protocol):
    """The part of evdev.InputDevice this reader uses."""

    @property
    def path(self) -> str | bytes: ...
    @property
    def name(self) -> str: ...
    def fileno(self) -> int: ...
    def read(self) -> Iterable[InputEvent]: ...
    def grab(self) -> None: ...
    def ungrab(self) -> None: ...
    def close(self) -> None: ...


class DeviceUnavailable(Exception):
    """The wedge cannot be opened right now; the message is the health reason."""


def open_evdev(device: str | None, name_match: str | None) -> InputDeviceLike:
    """Open the wedge by path, or the first input device whose name contains `name_match`."""
    import evdev

    try:
        if device is not None:
            return evdev.InputDevice(device)
        assert name_match is not None
        for path in evdev.list_devices():
            candidate = evdev.InputDevice(path)
            if name_match.lower() in candidate.name.lower():
                return candidate
            candidate.close()
    except FileNotFoundError as exc:
        raise DeviceUnavailable(f"input device {device} not found") from exc
    except PermissionError as exc:
        raise DeviceUnavailable(f"no permission to open input device {exc.filename or device}") from exc
    raise DeviceUnavailable(f"no input device named like {name_match!r}")


class HidWedgeReader(CardReader):
    """E.g. `HidWedgeReader("gate", "/dev/input/by-id/usb-...-event-kbd")` or
    `HidWedgeReader("gate", name_match="RFID Reader")`.

    `open_device` replaces the evdev lookup (tests use it); see wedge_decoder for
    `uid_format` and `decimal_byte_order`.
    """

    def __init__(self, reader_id: str, device: str | None = None, *, name_match: str | None = None,
                 retap_window_s: float = 1.5, uid_format: UidFormat = "auto",
                 decimal_byte_order: ByteOrder = "little", backoff_first_s: float = 0.5,
                 backoff_cap_s: float = 10.0,
                 open_device: Callable[[], InputDeviceLike] | None = None) -> None:
        super().__init__(reader_id)
        if open_device is None:
            if (device is None) == (name_match is None):
                raise ValueError("give exactly one of device (a path) or name_match")
            open_device = lambda: open_evdev(device, name_match)  # noqa: E731
        self._open_device = open_device
        self.retap_window_s = retap_window_s
        self._decoder_args = (uid_format, decimal_byte_order)
        WedgeDecoder(*self._decoder_args)  # validate the options now, not on the thread
        self._backoff = Backoff(backoff_first_s, backoff_cap_s)
        self._wake_r, self._wake_w = os.pipe()
        self._last_uid: str | None = None
        self._last_read_at = 0.0

    def _interrupt(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def _run(self) -> None:
        self._drain_wake()
        while not self._stop_event.is_set():
            device = self._open()
            if device is not None:
                try:
                    self._serve(device)
                except OSError as exc:
                    if not self._stop_event.is_set():
                        reason = "input device unplugged" if exc.errno == errno.ENODEV else \
                            f"input device error ({errno.errorcode.get(exc.errno or 0, exc.errno)})"
                        self._set_health(HealthState.LOST, reason)
                finally:
                    self._release(device)
            if not self._stop_event.is_set():
                self._stop_event.wait(self._backoff.next_delay())

    def _open(self) -> InputDeviceLike | None:
        try:
            device = self._open_device()
        except DeviceUnavailable as exc:
            self._set_health(HealthState.LOST, str(exc))
            return None
        except OSError as exc:
            self._set_health(HealthState.LOST, f"cannot open input device ({exc.strerror})")
            return None
        try:
            device.grab()  # exclusive: keystrokes stop reaching the screen
        except OSError as exc:
            device.close()
            reason = "input device is grabbed by another program" if exc.errno == errno.EBUSY \
                else f"cannot grab input device ({exc.strerror})"
            self._set_health(HealthState.LOST, reason)
            return None
        log.info("reader %s: grabbed %s (%s)", self.reader_id, device.path, device.name)
        self._backoff.reset()
        self._set_health(HealthState.OK)
        return device

    def _serve(self, device: InputDeviceLike) -> None:
        decoder = WedgeDecoder(*self._decoder_args)
        while not self._stop_event.is_set():
            readable, _, _ = select.select([device.fileno(), self._wake_r], [], [])
            if self._wake_r in readable:
                self._drain_wake()
                continue
            try:
                events = list(device.read())
            except BlockingIOError:
                continue
            for event in events:
                uid = decoder.feed(event)
                if uid is not None:
                    self._read(uid)

    def _read(self, uid: str) -> None:
        now = time.monotonic()
        repeat = uid == self._last_uid and now - self._last_read_at < self.retap_window_s
        self._last_uid, self._last_read_at = uid, now
        if not repeat:
            self._emit(TagEvent("tap", uid, "unknown", self.reader_id, now))

    def _release(self, device: InputDeviceLike) -> None:
        for action in (device.ungrab, device.close):
            try:
                action()
            except OSError:
                pass  # an unplugged device cannot be ungrabbed; closing frees it anyway

    def __del__(self) -> None:
        # The wake-up pipe lives as long as the reader object: stop() may write to it
        # at any time, so it is closed only when nothing can reach it any more.
        for fd in (getattr(self, "_wake_r", None), getattr(self, "_wake_w", None)):
            if fd is not None and not self.running:
                os.close(fd)

    def _drain_wake(self) -> None:
        while select.select([self._wake_r], [], [], 0)[0]:
            os.read(self._wake_r, 4096)
