"""Make kiosk/icons/MaterialSymbolsOutlined-kiosk.ttf: the glyphs of ICONS, from Material Symbols.

Run by a developer when an icon is added to ICONS (the result is committed; nothing is
fetched at run time):

    npm pack @material-symbols/font-400          # Material Symbols, Apache 2.0 (its LICENSE is LICENSE.txt)
    tar xzf material-symbols-font-400-*.tgz
    python -m pip install fonttools brotli       # brotli reads the .woff2
    python -m kiosk.icons.build_font package/material-symbols-outlined.woff2

The variable font (axis FILL) is pinned to its outlined instance (FILL 0) and cut down to the
icons' glyphs, keeping their code points and names; a few kilobytes instead of half a megabyte.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kiosk.icons import FONT, ICONS


def build(source: Path, target: Path = FONT) -> int:
    from fontTools import subset
    from fontTools.ttLib import TTFont
    from fontTools.varLib import instancer

    font = TTFont(str(source))
    if "fvar" in font:
        font = instancer.instantiateVariableFont(font, {a.axisTag: a.defaultValue for a in font["fvar"].axes})
    cmap = font.getBestCmap()
    missing = [name for name, cp in ICONS.items() if cp not in cmap]
    if missing:
        raise SystemExit(f"not in {source.name}: {missing}")
    options = subset.Options()
    options.glyph_names = True
    options.layout_features = []  # no ligatures: the kiosk writes code points
    options.flavor = None
    options.name_IDs = ["*"]  # keep the copyright and licence names
    options.notdef_outline = True
    sub = subset.Subsetter(options)
    sub.populate(unicodes=sorted(set(ICONS.values()) | {0x20}))  # and a space, to set icons apart
    sub.subset(font)
    font.flavor = None
    font.save(str(target))
    return target.stat().st_size


if __name__ == "__main__":
    size = build(Path(sys.argv[1]))
    print(f"{FONT} ({size} bytes, {len(ICONS)} icons)")
