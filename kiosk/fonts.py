"""The kiosk's font: Noto Sans CJK (Simplified Chinese face) as Kivy's default font.

Kivy's SDL2 text provider opens the first face of a font collection, and the
first face of Debian's NotoSansCJK-Regular.ttc is the Japanese one (different
glyph shapes for some hanzi). So the Simplified Chinese face ("Noto Sans CJK SC")
is copied once out of the collection into the cache directory (kiosk.ime.fonts).
If that is impossible the collection itself is used (every character still has a glyph).

What Kivy then registers as the default font is the UI face: that face cut down to
the characters the kiosk's own texts and its input method can produce, without CFF
subroutines (kiosk.fontsubset says why: the provider opens the font once per size,
and each opening of the full face cost 2.3-2.6 MB, 60-70 MB over the kiosk's sizes).
It is built once, in the background, by a child process (fontTools), and cached;
until it exists the full faces are used. A label whose text has a character the UI
face lacks is drawn with the full face instead (`_install_fallback`), so a rare
character in a visitor's or a host's name still shows.

Two corrections to Kivy's SDL2 text provider are installed with the font
(`free_render_surfaces`, `share_fonts_by_pixel_size`): see there.

No Kivy import at module level: the glyph check (fontTools, a test-time tool) is
used by tests without a window.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FAMILY = "Noto Sans CJK SC"
UI_SUBSET_VERSION = 1  # bump when the choice of characters below changes
# Beyond the texts found in the packages: ASCII and Latin letters (names typed on the Latin
# layout), punctuation, arrows and symbols, CJK and full-width punctuation, circled numbers.
_UI_RANGES = ((0x20, 0x7E), (0xA0, 0x24F), (0x2000, 0x206F), (0x2100, 0x214F), (0x2190, 0x21FF),
              (0x2460, 0x24FF), (0x2500, 0x25FF), (0x2600, 0x27BF), (0x3000, 0x303F), (0x3200, 0x32FF),
              (0xFE30, 0xFE4F), (0xFF00, 0xFFEF))
BUILD_MODES = ("background", "wait", "off")


def bold_path_for(path: str) -> str | None:
    """NotoSansCJK-Regular.ttc -> NotoSansCJK-Bold.ttc when it exists."""
    p = Path(path)
    if "Regular" in p.name:
        bold = p.with_name(p.name.replace("Regular", "Bold"))
        if bold.is_file():
            return str(bold)
    return None


def face_file(path: str) -> str:
    """A single-face file for the Simplified Chinese face (cached), or `path` itself.

    The extraction is the input method's (kiosk.ime.fonts): one implementation,
    no font library needed at run time.
    """
    from kiosk.ime.fonts import cjk_font

    return cjk_font(path, face="CJK SC")


def register_default_font(path: str, build: str | None = None) -> str:
    """Make the configured CJK font Kivy's default font (every Label uses it). Returns the file used.

    `build` (default: the environment's LOBBY_KIOSK_UI_FONT, else "background"): whether a
    missing UI face is built in the background (used from the next start), waited for, or not
    made at all ("off": the full faces, as before)."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    free_render_surfaces()
    share_fonts_by_pixel_size()
    if not Path(path).is_file():
        log.error("kiosk.font_path %s not found; Chinese text cannot be shown (install fonts-noto-cjk)", path)
        return ""
    regular = face_file(path)
    bold_src = bold_path_for(path)
    bold = face_file(bold_src) if bold_src else regular
    ui = ui_faces(regular, bold, build=build)
    if ui is not None:
        ui_regular, ui_bold, covered = ui
        _install_fallback({ui_regular: regular, ui_bold: bold}, covered)
        regular, bold = ui_regular, ui_bold
    LabelBase.register(DEFAULT_FONT, fn_regular=regular, fn_bold=bold)
    LabelBase.register("KioskFont", fn_regular=regular, fn_bold=bold)
    return regular


# --------------------------------------------------------------------------- the UI face


def ui_characters() -> str:
    """What the kiosk can show of its own: every character in the kiosk's and the lobby's
    sources (the UI catalogue, the service messages, the .kv files), the input method's word
    list, and the ranges above. Names and texts from central may hold others: see
    `_install_fallback`."""
    import lobby

    import kiosk

    chars = {chr(c) for a, b in _UI_RANGES for c in range(a, b + 1)}
    kiosk_dir, lobby_dir = Path(kiosk.__file__).parent, Path(lobby.__file__).parent
    index = kiosk_dir / "ime" / "pinyin_index.txt"
    if index.is_file():
        chars.update(c for c in index.read_text(encoding="utf-8") if c > "\x7f")
    for folder in (kiosk_dir, lobby_dir):
        for pattern in ("*.py", "*.kv"):
            for source in folder.rglob(pattern):
                try:
                    chars.update(c for c in source.read_text(encoding="utf-8") if c > "\x7f")
                except (OSError, UnicodeDecodeError):
                    continue
    return "".join(sorted(c for c in chars if c.isprintable() or c == " "))


def _ui_tag(face: str) -> str:
    from mqtt_bridge.version import VERSION

    index = Path(__file__).resolve().parent / "ime" / "pinyin_index.txt"
    parts = [face, UI_SUBSET_VERSION, VERSION]
    for f in (Path(face), index):
        try:
            st = f.stat()
            parts += [st.st_size, st.st_mtime_ns]
        except OSError:
            parts.append("-")
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()[:12]


def ui_face_path(face: str) -> Path:
    """Where the UI face of a full face file is cached."""
    from kiosk.ime.fonts import cache_dir

    return cache_dir() / f"{Path(face).stem}-ui{UI_SUBSET_VERSION}-{_ui_tag(face)}.otf"


# Characters no font draws (line breaks, tabs, zero-width marks), and the Private Use Area, where the
# kiosk's icons are (kiosk.icons: drawn with the icon font through [font=...] markup; the full face has
# no glyph there either): never a reason to switch faces. A button with an icon used to be drawn with
# the full face for its icon alone: the full face opened at nine sizes, 2.3-2.6 MB each.
_NOT_DRAWN = frozenset([*range(0x00, 0x20), 0x7F, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, *range(0xE000, 0xF900)])


def _covered(ui_face: Path) -> frozenset[int] | None:
    try:
        text = Path(str(ui_face) + ".chars").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return frozenset(map(ord, text)) | _NOT_DRAWN


# The UI faces a background build is making for this process (empty when none is).
_building: list[Path] = []


def ui_faces_built() -> bool:
    """True once the background build this kiosk started has finished: a restart would use them.

    After every upgrade the cached faces belong to the old version, so the first start draws
    with the full faces (about 25 MB more) while the build runs; the kiosk restarts on the
    UI faces at its next idle moment (kiosk/liveness.py) instead of keeping them for good."""
    return bool(_building) and all(out.exists() for out in _building)


def ui_faces(regular: str, bold: str, build: str | None = None) -> tuple[str, str, frozenset[int]] | None:
    """(UI regular, UI bold, the characters they cover), or None while they do not exist yet."""
    mode = build or os.environ.get("LOBBY_KIOSK_UI_FONT", "background")
    if mode not in BUILD_MODES:
        log.warning("LOBBY_KIOSK_UI_FONT=%s is not one of %s; using background", mode, ", ".join(BUILD_MODES))
        mode = "background"
    if mode == "off" or Path(regular).suffix.lower() not in (".otf", ".ttf"):
        return None
    faces = list(dict.fromkeys([regular, bold]))
    outs = [ui_face_path(f) for f in faces]
    if not all(o.exists() for o in outs):
        if importlib.util.find_spec("fontTools") is None:
            log.info("fontTools is not installed: the full CJK faces are used (about 2.5 MB per font size)")
            return None
        started = build_ui_faces(faces, outs, wait=mode == "wait")
        if not all(o.exists() for o in outs):
            if started:
                _building[:] = outs
                log.info("building the kiosk's UI font in the background; the full faces are used until it is "
                         "built and the screen is idle (the kiosk then restarts on it)")
            return None
    covered = [_covered(o) for o in outs]
    if any(c is None for c in covered):
        return None
    both = frozenset.intersection(*covered)  # type: ignore[arg-type]
    ui = {f: str(o) for f, o in zip(faces, outs)}
    return ui[regular], ui[bold], both


def build_ui_faces(faces: list[str], outs: list[Path], wait: bool = True) -> bool:
    """Run kiosk.fontsubset in a child process (the kiosk never imports fontTools). With `wait`
    False the child is left to finish on its own (its own session: it outlives a kiosk that is
    stopped meanwhile). Returns whether a builder was started."""
    from kiosk.ime.fonts import cache_dir

    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        chars = folder / f"ui-chars-{UI_SUBSET_VERSION}-{os.getpid()}.txt"
        chars.write_text(ui_characters(), encoding="utf-8")
    except OSError as exc:
        log.warning("cannot prepare the UI font in %s: %s", folder, exc)
        return False
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    argv = [sys.executable, "-m", "kiosk.fontsubset", "--chars", str(chars), "--lock", str(folder / "ui-font.lock")]
    for face, out in zip(faces, outs):
        argv += ["--font", face, "--out", str(out)]
    try:
        if wait:
            subprocess.run(argv, env=env, check=False, stdout=subprocess.DEVNULL, timeout=1800)
            chars.unlink(missing_ok=True)
        else:
            # the chars file is left for the child (a few tens of KB, replaced on the next build)
            subprocess.Popen(argv + ["--nice", "10"], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, start_new_session=True)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("cannot build the UI font: %s", exc)
        return False
    return True


def prepare_ui_fonts(path: str) -> str | None:
    """Build (and wait for) the UI faces of a configured font; the UI regular face, or None.
    For the installer, the benchmark and the tests: the kiosk itself builds them in the background."""
    if not Path(path).is_file():
        return None
    regular = face_file(path)
    bold_src = bold_path_for(path)
    bold = face_file(bold_src) if bold_src else regular
    ui = ui_faces(regular, bold, build="wait")
    return ui[0] if ui else None


# --------------------------------------------------------------------------- Kivy's text provider

_fallback: dict[str, str] = {}  # UI face file -> the full face file
_covered_chars: frozenset[int] = frozenset()


def _install_fallback(faces: dict[str, str], covered: frozenset[int]) -> None:
    """Draw a label with the full face when its text has a character the UI face lacks.

    Kivy resolves a label's font file (LabelBase.resolve_font_name) before every rendering;
    the wrapper looks at the text being rendered and, if the UI face cannot draw it all,
    swaps in the full face. The font cache key includes the file, so both stay open side by
    side, the full one only at the sizes that needed it."""
    from kivy.core.text import LabelBase

    global _covered_chars
    _fallback.update(faces)
    _covered_chars = covered
    if getattr(LabelBase.resolve_font_name, "_kiosk_fallback", False):
        return
    original = LabelBase.resolve_font_name

    def resolve_font_name(self: Any) -> None:
        original(self)
        options = self.options
        full = _fallback.get(options.get("font_name_r"))
        if full is not None:
            text = self._text
            if text and not text.isascii() and not _covered_chars.issuperset(map(ord, text)):
                options["font_name_r"] = full

    resolve_font_name._kiosk_fallback = True  # type: ignore[attr-defined]
    LabelBase.resolve_font_name = resolve_font_name  # type: ignore[method-assign]


def free_render_surfaces() -> None:
    """Let each label's SDL surface go as soon as its pixels are copied out.

    Kivy's SDL2 provider renders a label into an SDL surface, copies the pixels out
    (`get_data` makes a bytes object) for the texture, and keeps the surface on the
    label until it renders again: every label's pixels were held twice, once in the
    texture and once in that surface. Measured with heaptrack after ten flows: 874
    surfaces, 18.9 MB. Installed once; other providers are left alone."""
    from kivy.core.text import Label as CoreLabel

    if CoreLabel.__name__ != "LabelSDL2" or getattr(CoreLabel._render_end, "_kiosk_frees", False):
        return
    original = CoreLabel._render_end

    def _render_end(self: Any) -> Any:
        try:
            return original(self)
        finally:
            self._surface = None

    _render_end._kiosk_frees = True  # type: ignore[attr-defined]
    CoreLabel._render_end = _render_end  # type: ignore[method-assign]


def share_fonts_by_pixel_size() -> None:
    """One open font per (file, whole pixel size), not one per float font size.

    Kivy's SDL2 provider opens a font with TTF_OpenFont(file, int(font_size)) but caches it under
    a key made of str(font_size): 15, 15.0, 15.2 and 15.6 (sizes scaled by the screen, or shrunk
    to fit a button) opened the same font four times, each opening holding its own FreeType face
    (a few hundred kB for the UI face). The key is made of the size it is opened at; the
    pixels drawn are the same."""
    from kivy.core.text import Label as CoreLabel

    if CoreLabel.__name__ != "LabelSDL2" or getattr(CoreLabel._get_font_id, "_kiosk_pixel_size", False):
        return

    def _get_font_id(self: Any) -> str:
        o = self.options
        return f"{int(o['font_size'])}|{o['font_name_r']}|{o['bold']}|{o['italic']}|{o['underline']}|{o['strikethrough']}"

    _get_font_id._kiosk_pixel_size = True  # type: ignore[attr-defined]
    CoreLabel._get_font_id = _get_font_id  # type: ignore[method-assign]


@lru_cache(maxsize=4)
def _cmap(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTCollection, TTFont

    if Path(path).suffix.lower() in (".ttc", ".otc"):
        fonts = TTCollection(path, lazy=True).fonts
        font = next((f for f in fonts if f["name"].getDebugName(1) == FAMILY), fonts[0])
    else:
        font = TTFont(path, lazy=True)
    return frozenset(font.getBestCmap())


def missing_glyphs(text: str, path: str) -> list[str]:
    """The distinct characters of `text` the font has no glyph for (drawn as boxes)."""
    cmap = _cmap(path)
    return [ch for ch in dict.fromkeys(text) if not ch.isspace() and ord(ch) not in cmap]
