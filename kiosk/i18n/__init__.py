"""The kiosk's UI catalogue: Simplified Chinese first, English beside.

Two display languages: "zh" shows Chinese large with English smaller beside it,
"en" the other way round; both languages are always on screen. Screens bind to
the app's `lang` property, e.g. in kv ``text: app.t("home.checkin", app.lang)``,
so a toggle re-labels every widget in place (no widget is recreated).
"""

from __future__ import annotations

from kiosk.i18n.catalog import STRINGS, lookup

LANGS = ("zh", "en")


def lang_of(site_language: str) -> str:
    return "en" if site_language == "en" else "zh"


def pair(key: str, **fmt: object) -> tuple[str, str]:
    zh, en = lookup(key)
    if fmt:
        zh, en = zh.format(**fmt), en.format(**fmt)
    return zh, en


def plural_pair(key: str, n: int, **fmt: object) -> tuple[str, str]:
    """pair() with n in the format; "<key>.one" (its English in the singular) when n is 1."""
    one = f"{key}.one"
    return pair(one if n == 1 and one in STRINGS else key, n=n, **fmt)


def primary(key: str, lang: str, **fmt: object) -> str:
    zh, en = pair(key, **fmt)
    return en if lang == "en" else zh


def secondary(key: str, lang: str, **fmt: object) -> str:
    zh, en = pair(key, **fmt)
    return zh if lang == "en" else en


def order(zh: str, en: str, lang: str) -> tuple[str, str]:
    """(primary, secondary) of a bilingual pair for the display language."""
    return (en, zh) if lang == "en" else (zh, en)


def all_texts() -> list[str]:
    """Every catalogue string (for the glyph check)."""
    return [s for pair_ in STRINGS.values() for s in pair_]


__all__ = ["LANGS", "STRINGS", "all_texts", "lang_of", "lookup", "order", "pair", "plural_pair", "primary", "secondary"]
