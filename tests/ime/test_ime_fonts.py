"""The Simplified Chinese face is taken out of the Noto CJK collection for Kivy."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.ime import fonts

TTC = Path(fonts.DEFAULT_FONT)


@pytest.mark.skipif(not TTC.exists(), reason="fonts-noto-cjk is not installed")
def test_sc_face_extracted_once(tmp_path, monkeypatch):
    monkeypatch.setenv("LOBBY_FONT_CACHE", str(tmp_path))
    path = fonts.cjk_font(str(TTC))
    assert path.endswith(".otf") and Path(path).parent == tmp_path
    data = Path(path).read_bytes()
    assert data[:4] == b"OTTO"  # a standalone CFF OpenType font
    assert "Noto Sans CJK SC" in fonts._face_names(data, 0)
    mtime = Path(path).stat().st_mtime_ns
    assert fonts.cjk_font(str(TTC)) == path and Path(path).stat().st_mtime_ns == mtime  # cached
    from PIL import ImageFont
    font = ImageFont.truetype(path, 40)
    assert font.getbbox("张伟")[2] > 40  # FreeType opens it and draws the characters


def test_other_paths_pass_through(tmp_path, monkeypatch):
    monkeypatch.setenv("LOBBY_FONT_CACHE", str(tmp_path))
    assert fonts.cjk_font("/x/Some.ttf") == "/x/Some.ttf"
    assert fonts.cjk_font(str(tmp_path / "missing.ttc")) == str(tmp_path / "missing.ttc")
    junk = tmp_path / "junk.ttc"
    junk.write_bytes(b"not a font at all")
    assert fonts.cjk_font(str(junk)) == str(junk)
