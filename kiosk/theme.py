"""The kiosk's look from the config: the brand colour (kiosk.brand_color) and logo (kiosk.logo).

The brand colour fills buttons and, darker, the header band; both carry white text, so a
colour too light for it (contrast below 4.5:1, WCAG AA) is darkened until white text reads
on it, and the header until 7:1. The logo is a PNG on the Pi; one that cannot be read is
left out with a log line (the site's name shows instead).
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)

RGBA = tuple[float, float, float, float]


def parse_hex(colour: str) -> RGBA:
    colour = colour.lstrip("#")
    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return (r, g, b, 1.0)


def luminance(rgba: RGBA) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgba[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_with_white(rgba: RGBA) -> float:
    return 1.05 / (luminance(rgba) + 0.05)


def darken(rgba: RGBA, factor: float) -> RGBA:
    return (rgba[0] * factor, rgba[1] * factor, rgba[2] * factor, rgba[3])


def readable(rgba: RGBA, ratio: float) -> RGBA:
    """The colour, darkened in small steps until white text on it has at least `ratio` contrast."""
    out = rgba
    while contrast_with_white(out) < ratio and max(out[:3]) > 0.01:
        out = darken(out, 0.92)
    return out


def brand_colours(colour: str) -> dict[str, RGBA]:
    base = parse_hex(colour)
    brand = readable(base, 4.5)
    if brand != base:
        log.info("kiosk.brand_color %s darkened on screen so that white text reads on it", colour)
    return {"brand": brand, "brand_down": darken(brand, 0.72), "brand_dark": readable(darken(brand, 0.62), 7.0)}


def logo_source(path: str) -> str:
    """The logo file if it can be shown, else ""."""
    if not path:
        return ""
    if not (os.path.isfile(path) and os.access(path, os.R_OK)):
        log.warning("kiosk.logo %s cannot be read: the home screen shows the site's name without it", path)
        return ""
    return path


def apply(app: Any, cfg: Any) -> None:
    colours = brand_colours(cfg.kiosk.brand_color)
    app.c_brand = list(colours["brand"])
    app.c_brand_down = list(colours["brand_down"])
    app.c_brand_dark = list(colours["brand_dark"])
    app.logo = logo_source(cfg.kiosk.logo)
