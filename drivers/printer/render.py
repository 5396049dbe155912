"""The common renderer: a list of blocks stacked top to bottom into a 1-bit image.

Every printed document (badge, ticket receipt, roll call) is a short list of
blocks made by a layout function in :mod:`drivers.printer.layouts`; this module
turns them into the black-and-white raster that is sent with ESC/POS ``GS v 0``.
Text is wrapped to the paper width and cut to the block's line limit with an
ellipsis, so no input, however long, breaks the layout.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

import qrcode
from PIL import Image, ImageDraw

from drivers.printer.fonts import FontSet, FontType

log = logging.getLogger(__name__)

Align = Literal["left", "center", "right"]
Box = tuple[int, int, int, int]  # left, top, right, bottom (exclusive)

MAX_FIELD_CHARS = 256  # longer input is cut before layout; no badge line holds more
ELLIPSIS = "…"
_QR_LEVELS = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
              "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}


@dataclass(frozen=True)
class TextBlock:
    text: str
    size: int = 26
    bold: bool = False
    align: Align = "left"
    max_lines: int = 1
    name: str | None = None  # region name, for tests and previews


@dataclass(frozen=True)
class QrBlock:
    data: str
    module_px: int = 6
    error_correction: Literal["L", "M", "Q", "H"] = "M"
    border_modules: int = 4
    align: Align = "center"
    name: str | None = None


@dataclass(frozen=True)
class RuleBlock:
    thickness: int = 2
    gap: int = 8  # white space above and below


@dataclass(frozen=True)
class SpaceBlock:
    height: int


Block = TextBlock | QrBlock | RuleBlock | SpaceBlock


@dataclass(frozen=True)
class QrPlacement:
    """Where a QR code landed: ``matrix[row][col]`` is True for a dark module,
    quiet zone included; module (r, c) covers ``module_px`` square pixels from
    ``(left + c * module_px, top + r * module_px)``."""

    data: str
    left: int
    top: int
    module_px: int
    matrix: tuple[tuple[bool, ...], ...]


@dataclass
class RenderedDocument:
    image: Image.Image  # mode "1", paper width wide; 0 = black (ink)
    regions: dict[str, Box] = field(default_factory=dict)
    qr_codes: dict[str, QrPlacement] = field(default_factory=dict)
    missing_glyphs: int = 0  # characters drawn as .notdef boxes (tofu)


class Renderer:
    """Renders blocks onto paper *width_px* dots wide (576 for 80 mm, 384 for 58 mm)."""

    def __init__(self, fonts: FontSet | None = None, *, width_px: int = 576,
                 margin_px: int = 16, line_gap_px: int = 6) -> None:
        if width_px % 8:
            raise ValueError("width_px must be a multiple of 8 (raster bytes hold 8 dots)")
        self.fonts = fonts if fonts is not None else FontSet()
        self.width_px = width_px
        self.margin_px = margin_px
        self.line_gap_px = line_gap_px

    @property
    def text_width_px(self) -> int:
        return self.width_px - 2 * self.margin_px

    def render(self, blocks: list[Block]) -> RenderedDocument:
        parts: list[tuple[Block, Image.Image, object]] = []
        missing = 0
        for block in blocks:
            image, extra = self._render_block(block)
            if isinstance(block, TextBlock):
                missing += extra
            parts.append((block, image, extra))
        height = self.margin_px + sum(img.height for _, img, _ in parts) + self.margin_px
        page = Image.new("1", (self.width_px, height), 255)
        doc = RenderedDocument(page, missing_glyphs=missing)
        y = self.margin_px
        for block, image, extra in parts:
            x = self._x_for(getattr(block, "align", "left"), image.width)
            page.paste(image, (x, y))
            name = getattr(block, "name", None)
            if name:
                doc.regions[name] = (x, y, x + image.width, y + image.height)
            if isinstance(block, QrBlock):
                matrix, module_px = extra
                doc.qr_codes[name or block.data] = QrPlacement(
                    block.data, x, y, module_px, matrix)
            y += image.height
        if missing:
            log.warning("font %s lacks glyphs for %d character(s) in this document",
                        self.fonts.path.name, missing)
        return doc

    # -- blocks -----------------------------------------------------------------
    def _render_block(self, block: Block) -> tuple[Image.Image, object]:
        if isinstance(block, TextBlock):
            return self._text(block)
        if isinstance(block, QrBlock):
            return _qr_image(block, self.text_width_px)
        if isinstance(block, RuleBlock):
            img = Image.new("1", (self.text_width_px, block.thickness + 2 * block.gap), 255)
            ImageDraw.Draw(img).rectangle(
                (0, block.gap, self.text_width_px - 1, block.gap + block.thickness - 1), fill=0)
            return img, None
        if isinstance(block, SpaceBlock):
            return Image.new("1", (1, max(0, block.height)), 255), None
        raise TypeError(f"not a printable block: {block!r}")

    def _text(self, block: TextBlock) -> tuple[Image.Image, int]:
        font = self.fonts.font(block.size, block.bold)
        fake_bold = block.bold and not self.fonts.has_bold_face
        lines = wrap_text(clean_text(block.text), font, self.text_width_px, block.max_lines)
        ascent, descent = font.getmetrics()
        line_h = ascent + descent
        height = max(1, len(lines)) * line_h + max(0, len(lines) - 1) * self.line_gap_px
        # Draw in grey and threshold: sharper glyph shapes than drawing in 1-bit directly.
        canvas = Image.new("L", (self.text_width_px, height), 255)
        draw = ImageDraw.Draw(canvas)
        for i, line in enumerate(lines):
            width = int(font.getlength(line))
            x = {"left": 0, "center": (self.text_width_px - width) // 2,
                 "right": self.text_width_px - width}[block.align]
            draw.text((x, i * (line_h + self.line_gap_px)), line, font=font, fill=0,
                      stroke_width=1 if fake_bold else 0, stroke_fill=0)
        missing = len(self.fonts.missing_glyphs("".join(lines), block.bold))
        return to_one_bit(canvas), missing

    def _x_for(self, align: str, width: int) -> int:
        if align == "center":
            return (self.width_px - width) // 2
        if align == "right":
            return self.width_px - self.margin_px - width
        return self.margin_px


def to_one_bit(gray: Image.Image, threshold: int = 128) -> Image.Image:
    """Threshold a greyscale image to mode "1" without dithering."""
    return gray.point(lambda v: 255 if v >= threshold else 0).convert("1", dither=Image.Dither.NONE)


def clean_text(text: str) -> str:
    """Drop control and format characters, collapse whitespace, cap the length."""
    text = text[: MAX_FIELD_CHARS * 4]
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch.isspace():
            kept.append(" ")
        elif category[0] != "C":  # Cc control, Cf format, Cs surrogate, Co, Cn
            kept.append(ch)
    cleaned = " ".join("".join(kept).split())
    if len(cleaned) > MAX_FIELD_CHARS:
        cleaned = cleaned[: MAX_FIELD_CHARS - 1] + ELLIPSIS
    return cleaned


def wrap_text(text: str, font: FontType, max_width: int, max_lines: int) -> list[str]:
    """Greedy wrap to *max_width* pixels; the last allowed line ends in "…" if cut.

    A line breaks at a space when that keeps it at least half full, else between
    any two characters (Chinese has no spaces; an over-long word is split too).
    """
    if not text:
        return [""]
    lines: list[str] = []
    rest = text
    while rest and len(lines) < max_lines:
        cut = _fit(rest, font, max_width)
        last_line = len(lines) == max_lines - 1
        space = rest.rfind(" ", 1, cut + 1) if cut < len(rest) and not last_line else -1
        if space > cut // 2:
            line, rest = rest[:space], rest[space + 1:]
        else:
            line, rest = rest[:cut], rest[cut:].lstrip(" ")
        lines.append(line)
    if rest:
        lines[-1] = _with_ellipsis(lines[-1], font, max_width)
    return lines


def _fit(text: str, font: FontType, max_width: int) -> int:
    """How many leading characters of *text* fit in *max_width* (at least one)."""
    lo, hi = 1, len(text)
    if font.getlength(text) <= max_width:
        return len(text)
    while lo < hi:  # largest n with text[:n] fitting
        mid = (lo + hi + 1) // 2
        if font.getlength(text[:mid]) <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _with_ellipsis(line: str, font: FontType, max_width: int) -> str:
    while line and font.getlength(line + ELLIPSIS) > max_width:
        line = line[:-1]
    return line.rstrip() + ELLIPSIS


def _qr_image(block: QrBlock, max_width: int) -> tuple[Image.Image, tuple]:
    """The QR code image and (matrix, module size); modules shrink to fit the paper."""
    code = qrcode.QRCode(error_correction=_QR_LEVELS[block.error_correction],
                         box_size=1, border=block.border_modules)
    code.add_data(block.data)
    code.make(fit=True)
    matrix = tuple(tuple(bool(cell) for cell in row) for row in code.get_matrix())
    size = len(matrix)
    img = Image.new("1", (size, size), 255)
    img.putdata([0 if cell else 255 for row in matrix for cell in row])
    px = min(block.module_px, max_width // size)
    if px < 1:
        raise ValueError(f"QR code data too long for the paper width ({len(block.data)} chars)")
    return img.resize((size * px, size * px), Image.Resampling.NEAREST), (matrix, px)
