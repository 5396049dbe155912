"""NFC card readers: the CardReader interface, a libnfc driver and a HID wedge driver.

    reader = LibnfcReader("lobby", "pn532_uart:/dev/ttyS0")
    reader.subscribe_health(on_health)      # DeviceHealth on every change
    reader.start(on_event)                  # TagEvent("tap" | "removed", ...)
    ...
    reader.stop()

Callbacks run on the reader's own thread (see drivers.nfc.base). The driver
modules are imported lazily, so a host without libnfc (or evdev) can still use
the other reader and the interface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drivers.nfc.base import TAG_TYPES, CardReader, EventCallback, TagEvent

if TYPE_CHECKING:
    from drivers.nfc.hid_wedge import HidWedgeReader
    from drivers.nfc.libnfc_reader import LibnfcReader

__all__ = ["TAG_TYPES", "CardReader", "EventCallback", "HidWedgeReader", "LibnfcReader", "TagEvent"]


def __getattr__(name: str) -> Any:
    if name == "LibnfcReader":
        from drivers.nfc.libnfc_reader import LibnfcReader
        return LibnfcReader
    if name == "HidWedgeReader":
        from drivers.nfc.hid_wedge import HidWedgeReader
        return HidWedgeReader
    raise AttributeError(name)
