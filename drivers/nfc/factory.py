"""Building a card reader from plain settings: the one reader factory.

The gateway (its checkpoint readers) and the kiosk (its own readers) both build
their readers here, from a ``[[readers]]`` entry taken apart by the caller:

    reader = make_reader("nfc-lobby", "libnfc", connstring="pn532_uart:/dev/lobby-nfc")
    reader = make_reader("nfc-door", "hid", device="/dev/input/by-id/usb-reader-event-kbd")
    reader = make_reader("nfc-door", "hid", device="HID 08ff:0009")   # by device name

A HID wedge's ``device`` that starts with "/" is a device path; anything else is
matched against the input devices' names. The driver modules are imported only
when a reader of their kind is made, so a host without libnfc (or evdev) can
still build the other kind.
"""

from __future__ import annotations

from typing import Literal

from drivers.nfc.base import CardReader

ReaderKind = Literal["libnfc", "hid"]
DEFAULT_RETAP_WINDOW_S = 1.5


def make_reader(reader_id: str, kind: ReaderKind | str, *, connstring: str | None = None,
                device: str | None = None, retap_window_s: float = DEFAULT_RETAP_WINDOW_S) -> CardReader:
    """A reader of *kind*: ``libnfc`` opens *connstring*, ``hid`` reads the keyboard-wedge *device*."""
    if kind == "hid":
        from drivers.nfc.hid_wedge import HidWedgeReader

        path_or_name = device or ""
        if path_or_name.startswith("/"):
            return HidWedgeReader(reader_id, path_or_name, retap_window_s=retap_window_s)
        return HidWedgeReader(reader_id, name_match=path_or_name, retap_window_s=retap_window_s)
    if kind == "libnfc":
        from drivers.nfc.libnfc_reader import LibnfcReader

        return LibnfcReader(reader_id, connstring or "", retap_window_s=retap_window_s)
    raise ValueError(f"unknown reader kind {kind!r} (libnfc or hid)")
