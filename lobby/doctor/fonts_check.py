"""The Chinese font the screen and the badges are drawn with."""

from __future__ import annotations

from pathlib import Path

from lobby.config import Config
from lobby.doctor.base import Check, Context, Result, fail, ok

NAME = "fonts"
SAMPLE = "您好访客登记请谢谢巡更报修"  # greeting, visitor registration, please, thanks, patrol, repair


def checks(cfg: Config) -> list[Check]:
    return [Check(NAME, run, timeout_s=5.0)]


def run(ctx: Context) -> list[Result]:
    path = Path(ctx.cfg.kiosk.font_path)
    fix = ("Install the fonts: sudo apt install fonts-noto-cjk, or set [kiosk] font_path to a font "
           "with Chinese characters.")
    if not path.is_file():
        return [fail(NAME, f"The screen font {path} is missing: Chinese text would show as empty boxes.", fix,
                     path=str(path))]
    try:
        from drivers.printer.fonts import FontError, FontSet

        fonts = FontSet(path)
        missing = fonts.missing_glyphs(SAMPLE)
    except (FontError, OSError) as exc:
        return [fail(NAME, f"The screen font {path} cannot be used: {exc}.", fix, path=str(path))]
    if missing:
        return [fail(NAME, f"The font {path} has no Chinese characters (missing: {''.join(missing)}).", fix,
                     path=str(path))]
    return [ok(NAME, f"The font {path} has the Chinese characters the screen and badges need.", path=str(path))]
