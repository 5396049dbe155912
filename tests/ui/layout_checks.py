"""Checks on what a screen shows, from the kiosk's widget map (kiosk/testing/probe.py).

- every character of every text has a glyph in the configured font (no "tofu" boxes),
  checked against the font's cmap with fontTools; icons (Private Use Area) against the
  kiosk's icon font;
- every named widget lies inside the window (scrolled content: its visible part);
- no text is larger than its widget (it would spill over its neighbours);
- no two named widgets overlap (except a widget and what it contains, and scrolled items);
- touch targets (buttons, keys) are at least the 15 mm minimum in both directions;
- `strict` (every visitor screen): no text is cut: a label that drew an ellipsis its text
  does not have (Kivy's `shorten`), or drew less than its text (`max_lines`, a height it
  does not fit), or whose text is partly hidden by the scroll view it is in; and nothing
  lies behind a pinned button (the button that moves the visitor on), scrolled or not; and
  the second language (the smaller line) is drawn at SECOND_MIN_PX at least.
"""

from __future__ import annotations

from typing import Any

from kiosk.fonts import missing_glyphs
from kiosk.icons import FONT as ICON_FONT
from kiosk.icons import is_icon_char

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
SLACK = 2  # px of rounding
ELLIPSES = ("…", "...")
SECOND_MIN_PX = 14


def _inside(w: dict[str, Any], win: list[int]) -> bool:
    x0, y0, ww, hh = win
    return w["x"] >= x0 - SLACK and w["y"] >= y0 - SLACK and w["x"] + w["w"] <= x0 + ww + SLACK and \
        w["y"] + w["h"] <= y0 + hh + SLACK


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"]) > SLACK and
            min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"]) > SLACK)


def _contains(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["x"] <= b["x"] + SLACK and a["y"] <= b["y"] + SLACK and \
        a["x"] + a["w"] >= b["x"] + b["w"] - SLACK and a["y"] + a["h"] >= b["y"] + b["h"] - SLACK


def _visible_rect(w: dict[str, Any]) -> dict[str, Any]:
    if "vis" in w:
        x, y, ww, hh = w["vis"]
        return {"x": x, "y": y, "w": ww, "h": hh}
    return w


def cut_text(w: dict[str, Any]) -> str:
    """Why a label's text is not all drawn ("" when it is)."""
    text, lines = w.get("text", ""), w.get("lines")
    if not text or lines is None:
        return ""
    drawn = "".join(lines)
    if any(mark in drawn and mark not in text for mark in ELLIPSES):
        return f"ellipsised: {drawn[:60]!r}"
    if len("".join(drawn.split())) < len("".join(text.split())):
        return f"drawn only in part: {drawn[:60]!r} of {text[:60]!r}"
    return ""


def glyph_problems(texts: list[str], font: str) -> list[str]:
    joined = "".join(texts)
    icons = "".join(ch for ch in joined if is_icon_char(ch))
    out = []
    missing = missing_glyphs("".join(ch for ch in joined if not is_icon_char(ch)), font)
    if missing:
        out.append(f"characters without a glyph: {''.join(missing)!r}")
    missing_icons = missing_glyphs(icons, str(ICON_FONT)) if icons else []
    if missing_icons:
        out.append(f"icons without a glyph: {[hex(ord(c)) for c in missing_icons]}")
    return out


def problems(m: dict[str, Any], min_target_px: float, font: str = FONT, strict: bool = False) -> list[str]:
    out: list[str] = []
    win = m["window"]
    widgets = m["widgets"]
    texts = [w.get("text", "") for w in widgets.values()] + [k.get("text", "") for k in m["keys"].values()]
    out += glyph_problems(texts, font)
    for name, w in widgets.items():
        if not w["clipped"] and not _inside(w, win):
            out.append(f"{name} is off screen: {w['x']},{w['y']} {w['w']}x{w['h']} (window {win})")
        if w.get("text") and "th" in w and not w["clipped"]:
            if w["th"] > w["h"] + SLACK or w["tw"] > w["w"] + SLACK:
                out.append(f"{name}: text {w['tw']}x{w['th']} larger than the widget {w['w']}x{w['h']}: "
                           f"{w['text'][:40]!r}")
        if w.get("button") and not w["clipped"] and not w["disabled"]:
            if min(w["w"], w["h"]) < min_target_px - SLACK:
                out.append(f"{name}: touch target {w['w']}x{w['h']} smaller than {min_target_px:.0f} px")
        if strict:
            why = cut_text(w)
            if why:
                out.append(f"{name}: text cut, {why}")
            if w.get("text") and w["clipped"] and not w.get("button"):
                out.append(f"{name}: text partly hidden by its scroll view: {w['text'][:40]!r}")
            if w.get("fs2") is not None and w["fs2"] < SECOND_MIN_PX:
                out.append(f"{name}: second language at {w['fs2']} px, under {SECOND_MIN_PX}")
    names = [n for n, w in widgets.items() if not w["clipped"]]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            wa, wb = widgets[a], widgets[b]
            if _overlap(wa, wb) and not _contains(wa, wb) and not _contains(wb, wa):
                out.append(f"{a} overlaps {b}")
    if strict:
        pinned = [n for n, w in widgets.items() if w.get("pinned")]
        for p in pinned:
            wp = widgets[p]
            for name, w in widgets.items():
                if name == p or w.get("pinned"):
                    continue
                seen = _visible_rect(w)
                if _overlap(seen, wp) and not _contains(seen, wp) and not _contains(wp, seen):
                    out.append(f"{name} lies behind the pinned {p}")
    return out
