"""Pure logic of the NFC drivers: events, the tap tracker, tag types, connstrings."""

from __future__ import annotations

import pytest

from drivers.nfc.base import Backoff, TagEvent
from drivers.nfc.libnfc_reader import device_path, validate_connstring
from drivers.nfc.presence import TapTracker
from drivers.nfc.tag_types import classify

UID = "04A2243B"


def kinds(events: list[TagEvent]) -> list[tuple[str, str]]:
    return [(e.kind, e.uid) for e in events]


@pytest.mark.parametrize("uid", ["04a2243b", "04A224", "04A2243BXX", "04A2243B5C"])
def test_tag_event_rejects_bad_uids(uid: str) -> None:
    with pytest.raises(ValueError):
        TagEvent("tap", uid, "classic_1k", "r1", 0.0)


def test_tag_event_rejects_unknown_kinds_and_types() -> None:
    with pytest.raises(ValueError):
        TagEvent("hold", UID, "classic_1k", "r1", 0.0)
    with pytest.raises(ValueError):
        TagEvent("tap", UID, "felica", "r1", 0.0)


def test_one_tap_per_presentation() -> None:
    tracker = TapTracker("r1", retap_window_s=1.5)
    assert kinds(tracker.seen(UID, "classic_1k", 10.0)) == [("tap", UID)]
    assert tracker.seen(UID, "classic_1k", 10.5) == []  # still in the field
    assert tracker.absent(11.0) == []  # gone, but it may come back
    assert tracker.expire(12.0) == []
    removed = tracker.expire(12.5)
    assert kinds(removed) == [("removed", UID)]
    assert removed[0].at_mono == 11.0  # when it actually left
    assert kinds(tracker.seen(UID, "classic_1k", 13.0)) == [("tap", UID)]


def test_return_within_the_window_is_not_a_new_tap() -> None:
    tracker = TapTracker("r1", retap_window_s=1.5)
    tracker.seen(UID, "classic_1k", 10.0)
    tracker.absent(11.0)
    assert tracker.seen(UID, "classic_1k", 12.4) == []
    tracker.absent(13.0)
    assert tracker.expire(14.4) == []  # the window restarts from the last departure
    assert kinds(tracker.expire(14.5)) == [("removed", UID)]


def test_same_card_back_after_the_window_is_a_new_tap_even_without_an_empty_poll() -> None:
    """A guard taps twice: the reader saw the card leave, but its next poll already
    found the card back after the window had passed; that is a second presentation."""
    tracker = TapTracker("r1", retap_window_s=0.05)
    tracker.seen(UID, "classic_1k", 10.0)
    tracker.absent(10.5)
    events = tracker.seen(UID, "classic_1k", 10.8)
    assert kinds(events) == [("removed", UID), ("tap", UID)]
    assert events[0].at_mono == 10.5


def test_another_tag_ends_the_presentation_at_once() -> None:
    tracker = TapTracker("r1", retap_window_s=1.5)
    tracker.seen(UID, "classic_1k", 10.0)
    tracker.absent(10.2)
    events = tracker.seen("04A2243C", "classic_1k", 10.4)
    assert kinds(events) == [("removed", UID), ("tap", "04A2243C")]
    assert events[0].at_mono == 10.2


def test_seconds_until_expiry() -> None:
    tracker = TapTracker("r1", retap_window_s=1.5)
    assert tracker.seconds_until_expiry(0.0) is None
    tracker.seen(UID, "classic_1k", 10.0)
    tracker.absent(11.0)
    assert tracker.seconds_until_expiry(11.5) == pytest.approx(1.0)


@pytest.mark.parametrize("atqa, sak, ats, version, expected", [
    (0x0004, 0x08, b"", None, "classic_1k"),
    (0x0002, 0x18, b"", None, "classic_4k"),
    (0x0044, 0x00, b"", bytes.fromhex("0004040201001103"), "ntag"),
    (0x0044, 0x00, b"", bytes.fromhex("0004030101000B03"), "ultralight"),  # Ultralight EV1
    (0x0044, 0x00, b"", None, "ultralight"),  # no GET_VERSION answer
    (0x0344, 0x20, bytes.fromhex("7577810280"), None, "desfire"),
    (0x0004, 0x20, bytes.fromhex("7577810280"), None, "desfire"),
    (0x0004, 0x20, bytes.fromhex("788077029000"), None, "unknown"),  # e.g. a bank card
    (0x0004, 0x09, b"", None, "unknown"),  # MIFARE Mini
])
def test_classify(atqa: int, sak: int, ats: bytes, version: bytes | None, expected: str) -> None:
    assert classify(atqa, sak, ats, version) == expected


@pytest.mark.parametrize("connstring, path", [
    ("pn532_uart:/dev/ttyS0", "/dev/ttyS0"),
    ("pn532_uart:/dev/ttyAMA0:115200", "/dev/ttyAMA0"),
    ("pn532_i2c:/dev/i2c-1", "/dev/i2c-1"),
    ("acr122_usb", None),
    ("acr122_usb:001:004", None),
])
def test_connstrings_accepted(connstring: str, path: str | None) -> None:
    assert validate_connstring(connstring) == connstring
    assert device_path(connstring) == path


@pytest.mark.parametrize("connstring", ["", "pn532_uart", "pn532_uart:", "nfc:/dev/ttyS0", "/dev/ttyS0"])
def test_connstrings_refused(connstring: str) -> None:
    with pytest.raises(ValueError):
        validate_connstring(connstring)


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(0.5, 10.0)
    assert [backoff.next_delay() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5
