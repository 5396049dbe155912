"""NFC card readers: the CardReader interface, a libnfc driver and a HID wedge driver.

    reader = LibnfcReader("lobby", "pn532_uart:/dev/ttyS0")
    reader.subscribe_health(on_health)      # DeviceHealth on every change
    reader.start(on_event)                  # TagEvent("tap" | "removed", ...)
    ...
    reader.stop()

Callbacks run on the reader's own thread (see drivers.nfc.base). The driver
modules are imported lazily, so a host without libnfc (or evdev) can still use
the other reader and the interface.

This folder owns the readers (``libnfc_reader`` on ``libnfc``, ``hid_wedge`` on
``wedge_decoder``, tap tracking in ``presence``), the one reader factory
(``factory.make_reader``) and the PN532 simulator (``sim/``, started through
``sim/launch.py``).

May import: the standard library, pynfc (libnfc) and evdev, and the shared simulator
plumbing in :mod:`drivers.sim`; never lobby, kiosk or mqtt_bridge.
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
