"""HID keyboard-wedge readers.

This sandbox has no /dev/uinput (the kernel has no uinput module), so no virtual
input device can be created. The key assembly is tested on real evdev InputEvent
objects, and the reader thread against a stand-in device that hands out those
events through a real file descriptor, so select(), grab, unplug (ENODEV) and
reconnection run through the driver's own code.
"""

from __future__ import annotations

import errno
import os
import threading
from typing import Iterator

import pytest
from evdev import InputEvent, ecodes
from nfc_helpers import EventRecorder, HealthRecorder, wait_until

from drivers.nfc.hid_wedge import DeviceUnavailable, HidWedgeReader, open_evdev
from drivers.nfc.wedge_decoder import WedgeDecoder, line_to_uid

UID = "04A2243B"
UID_LITTLE_DECIMAL = "0992256516"  # 0x3B24A204
UID_BIG_DECIMAL = "0077734971"  # 0x04A2243B


def key_events(text: str, start: float = 1000.0, enter: bool = True, keypad: bool = False) -> list[InputEvent]:
    """The events a wedge sends for `text`: shifted capitals, key down and up, then Enter."""
    events: list[InputEvent] = []
    clock = [start]

    def press(code: int, value: int) -> None:
        clock[0] += 0.002
        sec, usec = int(clock[0]), int(round((clock[0] % 1) * 1_000_000))
        events.append(InputEvent(sec, usec, ecodes.EV_MSC, ecodes.MSC_SCAN, 0x70000 + code))
        events.append(InputEvent(sec, usec, ecodes.EV_KEY, code, value))
        events.append(InputEvent(sec, usec, ecodes.EV_SYN, ecodes.SYN_REPORT, 0))

    for char in text + ("\n" if enter else ""):
        if char == "\n":
            code = ecodes.KEY_KPENTER if keypad else ecodes.KEY_ENTER
        elif char.isdigit() and keypad:
            code = getattr(ecodes, f"KEY_KP{char}")
        else:
            code = getattr(ecodes, f"KEY_{char.upper()}")
        shifted = char.isalpha() and char.isupper()
        if shifted:
            press(ecodes.KEY_LEFTSHIFT, 1)
        press(code, 1)
        press(code, 0)
        if shifted:
            press(ecodes.KEY_LEFTSHIFT, 0)
    return events


def decode(events: list[InputEvent], **options: object) -> list[str]:
    decoder = WedgeDecoder(**options)
    return [uid for uid in map(decoder.feed, events) if uid is not None]


# -- key assembly ------------------------------------------------------------------

def test_hex_line() -> None:
    assert decode(key_events(UID)) == [UID]


def test_seven_and_ten_byte_hex_lines() -> None:
    assert decode(key_events("04A2243B5C6D80") + key_events("0102030405060708090A", start=2000)) == [
        "04A2243B5C6D80", "0102030405060708090A"]


def test_decimal_line_little_endian_by_default() -> None:
    assert decode(key_events(UID_LITTLE_DECIMAL)) == [UID]


def test_decimal_line_big_endian() -> None:
    assert decode(key_events(UID_BIG_DECIMAL), decimal_byte_order="big") == [UID]


def test_keypad_digits_and_enter() -> None:
    assert decode(key_events(UID_LITTLE_DECIMAL, keypad=True)) == [UID]


def test_autorepeat_is_ignored() -> None:
    events = key_events(UID)
    repeat = InputEvent(events[1].sec, events[1].usec, ecodes.EV_KEY, ecodes.KEY_0, 2)
    assert decode(events[:2] + [repeat] + events[2:]) == [UID]


def test_a_stray_key_spoils_the_line() -> None:
    assert decode(key_events("04A2X43B")) == []


def test_a_stale_fragment_is_dropped() -> None:
    fragment = key_events("04A2", enter=False, start=1000.0)
    assert decode(fragment + key_events(UID, start=1005.0)) == [UID]


@pytest.mark.parametrize("line, options, expected", [
    ("12345", {"uid_format": "decimal"}, "39300000"),
    ("12345", {}, None),  # auto: an unpadded number is not trusted
    ("12345678", {}, "12345678"),  # eight digits are hex
    ("4294967296", {}, None),  # does not fit 32 bits
    ("0992256516", {"uid_format": "hex"}, None),
    ("04A2243B5C", {}, None),  # five bytes is no UID
])
def test_line_to_uid(line: str, options: dict, expected: str | None) -> None:
    assert line_to_uid(line, **options) == expected


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError):
        WedgeDecoder(uid_format="octal")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        HidWedgeReader("gate")
    with pytest.raises(ValueError):
        HidWedgeReader("gate", "/dev/input/event0", decimal_byte_order="middle")  # type: ignore[arg-type]


def test_open_evdev_reports_plain_reasons() -> None:
    with pytest.raises(DeviceUnavailable, match="input device /nonexistent/event9 not found"):
        open_evdev("/nonexistent/event9", None)
    with pytest.raises(DeviceUnavailable, match="no input device named like 'No Such Reader'"):
        open_evdev(None, "No Such Reader")


# -- the reader thread ---------------------------------------------------------------

class FakeWedge:
    """Stands in for evdev.InputDevice: real InputEvents behind a real pipe fd."""

    def __init__(self, busy: bool = False) -> None:
        self.path, self.name = "/dev/input/event7", "USB RFID Reader Keyboard"
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self._pending: list[InputEvent] = []
        self._lock = threading.Lock()
        self.busy, self.grabbed, self.unplugged, self.closed = busy, False, False, False

    def type(self, text: str, **options: object) -> None:
        with self._lock:
            self._pending += key_events(text, **options)
        os.write(self._w, b"k")

    def unplug(self) -> None:
        self.unplugged = True
        os.write(self._w, b"u")

    def fileno(self) -> int:
        return self._r

    def read(self) -> list[InputEvent]:
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        os.read(self._r, 4096)  # raises BlockingIOError when nothing is there, like evdev
        with self._lock:
            events, self._pending = self._pending, []
        return events

    def grab(self) -> None:
        if self.busy:
            raise OSError(errno.EBUSY, "Device or resource busy")
        self.grabbed = True

    def ungrab(self) -> None:
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        self.grabbed = False

    def close(self) -> None:
        self.closed = True
        os.close(self._r)
        os.close(self._w)


class WedgeSupply:
    """Hands the reader one fake device per open; none left means unplugged."""

    def __init__(self, *devices: FakeWedge) -> None:
        self.devices = list(devices)

    def add(self, device: FakeWedge) -> None:
        self.devices.append(device)

    def __call__(self) -> FakeWedge:
        if not self.devices:
            raise DeviceUnavailable("no input device named like 'RFID'")
        return self.devices.pop(0)


@pytest.fixture
def wedge_reader() -> Iterator:
    readers: list[HidWedgeReader] = []

    def make(supply: WedgeSupply, events: EventRecorder, health: HealthRecorder | None = None,
             **options: object) -> HidWedgeReader:
        reader = HidWedgeReader("gate", open_device=supply, backoff_first_s=0.05, backoff_cap_s=0.2,
                                **options)
        if health is not None:
            reader.subscribe_health(health)
        reader.start(events)
        readers.append(reader)
        return reader

    yield make
    for reader in readers:
        reader.stop()


def test_wedge_taps_with_the_device_grabbed(wedge_reader, events: EventRecorder,
                                            health: HealthRecorder) -> None:
    device = FakeWedge()
    wedge_reader(WedgeSupply(device), events, health)
    health.wait_state("ok")
    assert device.grabbed
    device.type(UID)
    tap = events.wait_kinds("tap")[0]
    assert (tap.uid, tap.tag_type, tap.reader_id) == (UID, "unknown", "gate")


def test_wedge_repeats_within_the_window_are_one_tap(wedge_reader, events: EventRecorder,
                                                     health: HealthRecorder) -> None:
    device = FakeWedge()
    wedge_reader(WedgeSupply(device), events, health, retap_window_s=30.0)
    health.wait_state("ok")
    device.type(UID)
    device.type(UID_LITTLE_DECIMAL, start=1001.0)  # the same card, typed again
    device.type("04A2243C", start=1002.0)
    events.wait_for(lambda items: len(items) >= 2)
    assert [e.uid for e in events.snapshot()] == [UID, "04A2243C"]


def test_wedge_unplugged_then_back(wedge_reader, events: EventRecorder, health: HealthRecorder) -> None:
    first = FakeWedge()
    supply = WedgeSupply(first)
    reader = wedge_reader(supply, events, health)
    health.wait_state("ok")
    changes = len(health.snapshot())
    first.unplug()
    lost = health.wait_state("lost", after=changes)
    assert lost.reason == "input device unplugged"
    wait_until(lambda: first.closed)  # released right after health is reported
    assert reader.running

    second = FakeWedge()
    supply.add(second)
    health.wait_state("ok", after=changes)
    second.type(UID)
    assert events.wait_kinds("tap")[0].uid == UID


def test_wedge_grabbed_elsewhere_is_lost(wedge_reader, events: EventRecorder, health: HealthRecorder) -> None:
    busy = FakeWedge(busy=True)
    wedge_reader(WedgeSupply(busy), events, health)
    assert health.wait_state("lost").reason == "input device is grabbed by another program"
    assert busy.closed  # closed before health is reported


def test_wedge_stop_releases_the_device(wedge_reader, events: EventRecorder, health: HealthRecorder) -> None:
    device = FakeWedge()
    reader = wedge_reader(WedgeSupply(device), events, health)
    health.wait_state("ok")
    reader.stop()
    assert not reader.running
    assert not device.grabbed and device.closed
