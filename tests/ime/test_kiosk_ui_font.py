"""The kiosk's UI face: the CJK face cut down to the UI's characters, the full face for the rest.

Kivy runs in a child process (no window is needed to resolve fonts and render text into
memory); these tests check which file each text is drawn with and that a rendered label
does not keep its SDL surface. Memory figures are in docs/PERFORMANCE.md, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk import fonts
from kiosk.ime import fonts as ime_fonts

ROOT = Path(__file__).resolve().parents[2]
TTC = Path(ime_fonts.DEFAULT_FONT)

SCRIPT = r"""
import json, sys
from pathlib import Path
from kiosk import fonts, fontsubset
from kiosk.ime.fonts import cjk_font

full = cjk_font(sys.argv[1])
ui = str(Path(sys.argv[2]) / "ui.otf")
fontsubset.build(full, ui, "访客登记" + "".join(map(chr, range(0x20, 0x7f))))
covered = fonts._covered(Path(ui))
fonts._install_fallback({ui: full}, covered)
fonts.free_render_surfaces()
fonts.share_fonts_by_pixel_size()
from kivy.core.text import Label as CoreLabel
out = {}
icon = "[font=icons.ttf]\ue869[/font]\n访客"
for text in ("访客登记\n[size=12]Visitor[/size]", "Hello", "张伟", "访客 龘", icon):
    label = CoreLabel(text=text, font_name=ui, font_size=20)
    label.resolve_font_name()
    out[text] = "ui" if label.options["font_name_r"] == ui else "full"
label = CoreLabel(text="访客", font_name=ui, font_size=24)
label.resolve_font_name()
w, h = label.get_extents("访客")
label._size = (w, h)
label._render_begin()
label._render_text("访客", 0, 0)
data = label._render_end()
out["surface_kept"] = getattr(label, "_surface", None) is not None
out["pixels"] = len(data.data) == w * h * 4 and any(data.data)
ids = {}
for size in (15, 15.2, 15.6, 16):
    label = CoreLabel(text="访客", font_name=ui, font_size=size)
    label.resolve_font_name()
    ids[size] = label._get_font_id()
    ids[f"{size} extents"] = label.get_extents("访客")
out["same_font"] = ids[15] == ids[15.2] == ids[15.6] != ids[16]
out["same_extents"] = ids["15 extents"] == ids["15.6 extents"] != ids["16 extents"]
print(json.dumps(out, ensure_ascii=False))
"""


@pytest.mark.skipif(not TTC.exists(), reason="fonts-noto-cjk is not installed")
def test_ui_face_draws_its_characters_and_the_full_face_the_rest(tmp_path: Path) -> None:
    env = {**os.environ, "KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1", "KIVY_HOME": str(tmp_path / "kivy"),
           "LOBBY_FONT_CACHE": str(tmp_path / "fonts"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(TTC), str(tmp_path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["访客登记\n[size=12]Visitor[/size]"] == "ui"  # line breaks and markup need no glyph
    assert out["Hello"] == "ui"
    assert out["张伟"] == "full"  # not in this small subset: the full face draws them
    assert out["访客 龘"] == "full"  # one missing character is enough to switch the whole label
    # an icon (Private Use Area, drawn with the icon font through markup) is no reason to open the full face
    assert out["[font=icons.ttf]\ue869[/font]\n访客"] == "ui"
    # fonts are opened at whole pixel sizes: one open font for 15, 15.2 and 15.6, drawn the same
    assert out["same_font"] is True and out["same_extents"] is True
    assert out["surface_kept"] is False and out["pixels"] is True


def test_ui_characters_cover_the_catalogue_the_word_list_and_latin() -> None:
    from kiosk.i18n import catalog

    chars = set(fonts.ui_characters())
    catalogue = {c for c in Path(catalog.__file__).read_text(encoding="utf-8") if c > "\x7f" and c.isprintable()}
    assert catalogue <= chars
    assert set("张伟王芳李娜访客登记投诉报修") <= chars  # names and words from the input method's list
    assert {chr(c) for c in range(0x20, 0x7F)} <= chars
    assert len(chars) < 12_000  # a subset, not the font's 30,000 CJK characters


def test_the_ui_face_is_cached_per_face_file_and_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOBBY_FONT_CACHE", str(tmp_path))
    face = tmp_path / "Face-Regular.otf"
    face.write_bytes(b"OTTO" + b"\0" * 64)
    first = fonts.ui_face_path(str(face))
    assert first.parent == tmp_path and first.name.startswith("Face-Regular-ui")
    assert fonts.ui_face_path(str(face)) == first
    face.write_bytes(b"OTTO" + b"\1" * 65)  # another font file: another subset
    assert fonts.ui_face_path(str(face)) != first


def test_without_a_built_face_nothing_is_swapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOBBY_FONT_CACHE", str(tmp_path))
    face = tmp_path / "Face-Regular.otf"
    face.write_bytes(b"OTTO" + b"\0" * 64)
    assert fonts.ui_faces(str(face), str(face), build="off") is None
    monkeypatch.setenv("LOBBY_KIOSK_UI_FONT", "off")
    assert fonts.ui_faces(str(face), str(face)) is None
