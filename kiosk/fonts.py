"""The kiosk's font: Noto Sans CJK (Simplified Chinese face) as Kivy's default font.

Kivy's SDL2 text provider opens the first face of a font collection, and the
first face of Debian's NotoSansCJK-Regular.ttc is the Japanese one (different
glyph shapes for some hanzi). So the Simplified Chinese face ("Noto Sans CJK SC")
is copied once out of the collection into the cache directory (kiosk.ime.fonts)
and that file is registered as Kivy's default font. If that is impossible the
collection itself is used (every character still has a glyph).

No Kivy import at module level: the glyph check (fontTools, a test-time tool) is
used by tests without a window.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

FAMILY = "Noto Sans CJK SC"


def bold_path_for(path: str) -> str | None:
    """NotoSansCJK-Regular.ttc -> NotoSansCJK-Bold.ttc when it exists."""
    p = Path(path)
    if "Regular" in p.name:
        bold = p.with_name(p.name.replace("Regular", "Bold"))
        if bold.is_file():
            return str(bold)
    return None


def face_file(path: str) -> str:
    """A single-face file for the Simplified Chinese face (cached), or `path` itself.

    The extraction is the input method's (kiosk.ime.fonts): one implementation,
    no font library needed at run time.
    """
    from kiosk.ime.fonts import cjk_font

    return cjk_font(path, face="CJK SC")


def register_default_font(path: str) -> str:
    """Make the configured CJK font Kivy's default font (every Label uses it). Returns the file used."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    if not Path(path).is_file():
        log.error("kiosk.font_path %s not found; Chinese text cannot be shown (install fonts-noto-cjk)", path)
        return ""
    regular = face_file(path)
    bold_src = bold_path_for(path)
    bold = face_file(bold_src) if bold_src else regular
    LabelBase.register(DEFAULT_FONT, fn_regular=regular, fn_bold=bold)
    LabelBase.register("KioskFont", fn_regular=regular, fn_bold=bold)
    return regular


@lru_cache(maxsize=4)
def _cmap(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTCollection, TTFont

    if Path(path).suffix.lower() in (".ttc", ".otc"):
        fonts = TTCollection(path, lazy=True).fonts
        font = next((f for f in fonts if f["name"].getDebugName(1) == FAMILY), fonts[0])
    else:
        font = TTFont(path, lazy=True)
    return frozenset(font.getBestCmap())


def missing_glyphs(text: str, path: str) -> list[str]:
    """The distinct characters of `text` the font has no glyph for (drawn as boxes)."""
    cmap = _cmap(path)
    return [ch for ch in dict.fromkeys(text) if not ch.isspace() and ord(ch) not in cmap]
