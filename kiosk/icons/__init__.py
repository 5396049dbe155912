"""Icons for the touchscreen: Material Symbols (Outlined, weight 400, not filled), Apache 2.0.

The kiosk ships only the glyphs it uses, in `MaterialSymbolsOutlined-kiosk.ttf` beside this
file (a subset made with fontTools by `build_font.py`, which says where the full font comes
from); `LICENSE.txt` beside it is the font's licence. An icon is a character of that font:
`glyph("home")` is its markup for a Kivy label with markup on, `ICONS` names every one.

A name not in ICONS is a programming error (KeyError), caught by tests/unit/test_icons.py,
which also checks that every icon has its glyph in the font file.
"""

from __future__ import annotations

from pathlib import Path

FONT = Path(__file__).with_name("MaterialSymbolsOutlined-kiosk.ttf")
LICENSE = Path(__file__).with_name("LICENSE.txt")

# name (as Material Symbols names it) -> its code point in the font
ICONS: dict[str, int] = {
    # home and header
    "how_to_reg": 0xE174, "logout": 0xE9BA, "build": 0xE869, "sentiment_satisfied": 0xE813,
    "manage_search": 0xF02F, "qr_code_scanner": 0xF206, "arrow_back": 0xE5C4, "home": 0xE88A,
    "translate": 0xE8E2,
    # purposes of a visit
    "handshake": 0xEBCB, "local_shipping": 0xE558, "work": 0xE8F9, "construction": 0xEA3C,
    "apartment": 0xEA40, "more_horiz": 0xE5D3,
    # ticket kinds and categories, feedback reasons
    "report": 0xE160, "warning": 0xE002, "help": 0xE887, "lightbulb": 0xE0F0, "thumb_up": 0xE8DC,
    "engineering": 0xEA3D, "security": 0xE32A, "cleaning_services": 0xF0FF, "park": 0xEA63,
    "local_parking": 0xE54F, "volume_up": 0xE050, "domain": 0xE7EE, "hourglass_top": 0xEA5B,
    "support_agent": 0xF0E2,
    # read-back, results, steps
    "edit": 0xE3C9, "check_circle": 0xE86C, "info": 0xE88E, "print": 0xE8AD, "contactless": 0xEA71,
    "badge": 0xEA67, "schedule": 0xE8B5, "groups": 0xF233, "add": 0xE145, "remove": 0xE15B,
    "person": 0xE7FD, "call": 0xE0B0, "pin_drop": 0xE55E, "description": 0xE873, "priority_high": 0xE645,
    "privacy_tip": 0xF0DC, "touch_app": 0xE913, "qr_code_2": 0xE00A, "receipt_long": 0xEF6E,
    "corporate_fare": 0xF1D0, "id_card": 0xF4CA, "verified_user": 0xE8E8, "timer": 0xE425,
}


def char(name: str) -> str:
    """The icon's character (for a label whose font is the icon font)."""
    return chr(ICONS[name])


def glyph(name: str, size: float | None = None) -> str:
    """Kivy markup drawing the icon inside a text in another font; `size` in px (default: the text's)."""
    if not name:
        return ""
    inner = char(name)
    if size:
        inner = f"[size={max(8, int(size))}]{inner}[/size]"
    return f"[font={FONT}]{inner}[/font]"


def is_icon_char(ch: str) -> bool:
    """Icons live in the Private Use Area; no text the kiosk shows uses it otherwise."""
    return 0xE000 <= ord(ch) <= 0xF8FF
