"""Shared constants for the meter tests (a uniquely named module, unlike conftest)."""

from drivers.meters.serial_settings import SerialSettings

FAST_8E1 = SerialSettings(115200, 8, "E", 1)
FAST_8N1 = SerialSettings(115200, 8, "N", 1)
