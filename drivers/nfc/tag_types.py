"""Naming a tag's type from what the anticollision tells us (ATQA, SAK, ATS).

Follows NXP AN10833 ("MIFARE type identification procedure"). ATQA is written
as the two bytes in the order libnfc reports them (0x0044 for Ultralight).
Ultralight and NTAG share ATQA 0044 / SAK 00; only GET_VERSION (0x60) tells them
apart, so `needs_version()` says when the caller should ask the tag.
"""

from __future__ import annotations

DESFIRE_ATS = bytes([0x75, 0x77, 0x81, 0x02])  # T0 TA TB TC of DESFire EV1/EV2/EV3
NXP_VENDOR, NTAG_PRODUCT = 0x04, 0x04


def needs_version(atqa: int, sak: int) -> bool:
    return sak == 0x00 and atqa == 0x0044


def classify(atqa: int, sak: int, ats: bytes = b"", version: bytes | None = None) -> str:
    """Return one of the TAG_TYPES names in drivers.nfc.base.

    `ats` is the ATS without its length byte, as libnfc stores it; `version` is
    the 8-byte GET_VERSION answer of an Ultralight-family tag, or None.
    """
    if sak in (0x08, 0x88, 0x28):  # Classic 1K (0x28: SmartMX with Classic 1K emulation)
        return "classic_1k"
    if sak in (0x18, 0x98, 0x38):  # Classic 4K (0x38: SmartMX with Classic 4K emulation)
        return "classic_4k"
    if needs_version(atqa, sak):
        if version and len(version) >= 3 and version[1] == NXP_VENDOR and version[2] == NTAG_PRODUCT:
            return "ntag"
        return "ultralight"
    if sak == 0x20 and (atqa == 0x0344 or ats[:4] == DESFIRE_ATS):
        return "desfire"
    return "unknown"
