"""The one reader factory: libnfc readers by connstring, HID wedges by device path or by device name."""

from __future__ import annotations

from typing import Any

import pytest

from drivers.nfc import hid_wedge
from drivers.nfc.factory import make_reader
from drivers.nfc.libnfc_reader import LibnfcReader


def test_a_libnfc_reader_opens_its_connstring() -> None:
    reader = make_reader("nfc-lobby", "libnfc", connstring="pn532_uart:/dev/lobby-nfc", retap_window_s=0.7)
    assert isinstance(reader, LibnfcReader)
    assert (reader.reader_id, reader.connstring) == ("nfc-lobby", "pn532_uart:/dev/lobby-nfc")
    assert reader._tracker.retap_window_s == 0.7


def test_a_hid_device_starting_with_a_slash_is_a_path_anything_else_a_name(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[Any, ...]] = []

    class Recorder:
        def __init__(self, reader_id: str, device: str | None = None, *, name_match: str | None = None,
                     retap_window_s: float = 1.5) -> None:
            made.append((reader_id, device, name_match, retap_window_s))

    monkeypatch.setattr(hid_wedge, "HidWedgeReader", Recorder)
    make_reader("nfc-door", "hid", device="/dev/input/by-id/usb-reader-event-kbd", retap_window_s=2.0)
    make_reader("nfc-desk", "hid", device="HID 08ff:0009")
    assert made == [("nfc-door", "/dev/input/by-id/usb-reader-event-kbd", None, 2.0),
                    ("nfc-desk", None, "HID 08ff:0009", 1.5)]


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown reader kind"):
        make_reader("nfc-x", "bluetooth")
