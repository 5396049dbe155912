"""The icon font the kiosk ships: every icon it names has its glyph, the licence travels with it,
and the package data takes both (pyproject's globs)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

from fontTools.ttLib import TTFont

from kiosk.icons import FONT, ICONS, LICENSE, glyph, is_icon_char

ROOT = Path(__file__).resolve().parents[2]


def test_every_icon_has_its_glyph_in_the_shipped_font() -> None:
    font = TTFont(str(FONT))
    cmap = font.getBestCmap()
    missing = {name: hex(cp) for name, cp in ICONS.items() if cp not in cmap}
    assert missing == {}
    wrong = {name: cmap[cp] for name, cp in ICONS.items() if cmap[cp] != name}
    assert wrong == {}, "a code point shows another icon than its name says"
    assert "fvar" not in font  # one static instance (outlined), as drawn on screen
    assert FONT.stat().st_size < 64_000  # only the glyphs used


def test_the_licence_ships_beside_the_font() -> None:
    text = LICENSE.read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0" in text
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["*"]
    for path in (FONT, LICENSE):
        assert any(fnmatch.fnmatch(path.name, g) for g in globs), (path.name, globs)
    assert (FONT.parent / "__init__.py").exists()  # a package, so that its data is installed


def test_icon_markup_and_private_use() -> None:
    assert glyph("home").startswith("[font=") and chr(ICONS["home"]) in glyph("home")
    assert "[size=30]" in glyph("home", 30) and glyph("") == ""
    assert all(is_icon_char(chr(cp)) for cp in ICONS.values())
    assert not is_icon_char("访") and not is_icon_char("A")
