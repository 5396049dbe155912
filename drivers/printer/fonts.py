"""Loading the badge font and telling whether it has the glyphs a text needs.

Badges are printed as raster images, so the printer needs no Chinese code page:
any glyph the font has prints. The default font is Noto Sans CJK (Debian's
``fonts-noto-cjk``); in its .ttc collection the Simplified Chinese face is picked
by family name.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

DEFAULT_FONT_PATH = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
DEFAULT_BOLD_FONT_PATH = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
DEFAULT_FAMILY = "Noto Sans CJK SC"
_NOTDEF_PROBE = "\uffff"  # a noncharacter: every font draws its .notdef glyph for it


class FontError(RuntimeError):
    """The configured font cannot be used."""


FontType = ImageFont.FreeTypeFont


class FontSet:
    """A regular and a bold face at any pixel size.

    :param path: a TrueType/OpenType font or collection (.ttc).
    :param bold_path: the bold face; when missing, bold text is drawn with a
        one-pixel stroke of the regular face.
    :param family: in a collection, the face whose family name this is
        (the first face when none matches).
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_FONT_PATH,
                 bold_path: str | os.PathLike[str] | None = None,
                 family: str = DEFAULT_FAMILY) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FontError(f"badge font not found: {self.path} "
                            "(install fonts-noto-cjk or configure another font path)")
        if bold_path is None and self.path == Path(DEFAULT_FONT_PATH):
            bold_path = DEFAULT_BOLD_FONT_PATH
        self.bold_path = Path(bold_path) if bold_path and Path(bold_path).is_file() else None
        self.family = family
        self._index = _face_index(str(self.path), family)
        self._bold_index = _face_index(str(self.bold_path), family) if self.bold_path else 0
        self.font(20)  # fail now, not while printing, if the file is not a font

    @property
    def has_bold_face(self) -> bool:
        return self.bold_path is not None

    def font(self, size: int, bold: bool = False) -> FontType:
        if bold and self.bold_path is not None:
            return _load(str(self.bold_path), self._bold_index, size)
        return _load(str(self.path), self._index, size)

    def missing_glyphs(self, text: str, bold: bool = False) -> list[str]:
        """The distinct characters of *text* this font would draw as a .notdef box."""
        font = self.font(32, bold)
        notdef = _mask_bytes(font, _NOTDEF_PROBE)
        missing = []
        for ch in dict.fromkeys(text):
            if ch.isspace():
                continue
            if _mask_bytes(font, ch) == notdef:
                missing.append(ch)
        return missing


def _mask_bytes(font: FontType, ch: str) -> tuple[tuple[int, int], bytes]:
    mask = font.getmask(ch)
    return mask.size, bytes(mask)


@lru_cache(maxsize=64)
def _load(path: str, index: int, size: int) -> FontType:
    try:
        return ImageFont.truetype(path, size, index=index,
                                  layout_engine=ImageFont.Layout.BASIC)
    except OSError as exc:
        raise FontError(f"cannot load badge font {path}: {exc}") from exc


@lru_cache(maxsize=8)
def _face_index(path: str, family: str) -> int:
    if not path.lower().endswith((".ttc", ".otc")):
        return 0
    for index in range(64):
        try:
            face = ImageFont.truetype(path, 12, index=index)
        except OSError:
            break
        if face.getname()[0] == family:
            return index
    return 0
