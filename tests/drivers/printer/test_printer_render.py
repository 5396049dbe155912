"""The common renderer: wrapping, truncation, glyph coverage, QR placement."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.printer import QrBlock, TextBlock
from drivers.printer.render import ELLIPSIS, MAX_FIELD_CHARS, clean_text, wrap_text


def test_ten_thousand_chinese_characters_wrap_to_the_line_limit(renderer):
    font = renderer.fonts.font(56, bold=True)
    lines = wrap_text(clean_text("张" * 10_000), font, renderer.text_width_px, max_lines=2)
    assert len(lines) == 2
    assert lines[-1].endswith(ELLIPSIS)
    assert all(font.getlength(line) <= renderer.text_width_px for line in lines)


def test_latin_text_breaks_between_words(renderer):
    font = renderer.fonts.font(26)
    text = "Please meet Maria Fernanda Gonzalez from the Shanghai office at the lobby desk"
    lines = wrap_text(text, font, 300, max_lines=6)
    assert len(lines) > 1
    assert " ".join(lines) == text  # no word was split
    assert all(font.getlength(line) <= 300 for line in lines)


def test_control_characters_and_runs_of_space_are_cleaned():
    assert clean_text("张\x00伟\n\t  Li\u200b Na\x1b[2J") == "张伟 Li Na[2J"
    assert len(clean_text("x" * 100_000)) == MAX_FIELD_CHARS


@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=400), max_lines=st.integers(1, 3))
def test_any_text_renders_within_its_block(renderer, text, max_lines):
    doc = renderer.render([TextBlock(text, size=40, max_lines=max_lines, name="t")])
    left, top, right, bottom = doc.regions["t"]
    ascent, descent = renderer.fonts.font(40).getmetrics()
    assert right - left == renderer.text_width_px
    assert bottom - top <= max_lines * (ascent + descent) + (max_lines - 1) * renderer.line_gap_px
    assert doc.image.width == renderer.width_px


def test_noto_has_the_chinese_glyphs_and_dejavu_does_not(renderer, tofu_renderer):
    assert renderer.fonts.missing_glyphs("张伟 访客出入证 Pass") == []
    assert tofu_renderer.fonts.missing_glyphs("张伟 Pass") == ["张", "伟"]
    assert renderer.render([TextBlock("张伟")]).missing_glyphs == 0
    assert tofu_renderer.render([TextBlock("张伟")]).missing_glyphs == 2


def test_qr_modules_land_where_the_placement_says(renderer):
    doc = renderer.render([TextBlock("x"), QrBlock("T-0001", module_px=5, name="qr")])
    qr = doc.qr_codes["qr"]
    pixels = doc.image.load()
    for r, row in enumerate(qr.matrix):
        for c, dark in enumerate(row):
            x0, y0 = qr.left + c * qr.module_px, qr.top + r * qr.module_px
            block = {pixels[x0 + dx, y0 + dy] for dx in range(qr.module_px)
                     for dy in range(qr.module_px)}
            assert block == ({0} if dark else {255})


def test_qr_shrinks_to_fit_narrow_paper():
    from drivers.printer import Renderer
    narrow = Renderer(width_px=384)
    doc = narrow.render([QrBlock("x" * 200, module_px=12, name="qr")])
    qr = doc.qr_codes["qr"]
    assert len(qr.matrix) * qr.module_px <= narrow.text_width_px
    assert doc.image.width == 384
