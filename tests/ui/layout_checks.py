"""Checks on what a screen shows, from the kiosk's widget map (kiosk/testing/probe.py).

- every character of every text has a glyph in the configured font (no "tofu" boxes),
  checked against the font's cmap with fontTools;
- every named widget lies inside the window (scrolled content: its visible part);
- no text is larger than its widget (it would spill over its neighbours);
- no two named widgets overlap (except a widget and what it contains, and scrolled items);
- touch targets (buttons, keys) are at least the 15 mm minimum in both directions.
"""

from __future__ import annotations

from typing import Any

from kiosk.fonts import missing_glyphs

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
SLACK = 2  # px of rounding
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


def problems(m: dict[str, Any], min_target_px: float, font: str = FONT) -> list[str]:
    out: list[str] = []
    win = m["window"]
    widgets = m["widgets"]
    texts = [w.get("text", "") for w in widgets.values()] + [k.get("text", "") for k in m["keys"].values()]
    missing = missing_glyphs("".join(texts), font)
    if missing:
        out.append(f"characters without a glyph: {''.join(missing)!r}")
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
    names = [n for n, w in widgets.items() if not w["clipped"]]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            wa, wb = widgets[a], widgets[b]
            if _overlap(wa, wb) and not _contains(wa, wb) and not _contains(wb, wa):
                out.append(f"{a} overlaps {b}")
    return out
