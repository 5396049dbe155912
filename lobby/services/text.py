"""Text hygiene for everything a person types (or a scanner or central sends).

Rules, for every field:
- input is Unicode-normalised to NFC; full-width letters and digits (ＡＢＣ１２３)
  and the ideographic space are folded to plain ASCII (full-width punctuation,
  ordinary in Chinese text, is kept);
- control characters (NUL, tab, escape, ...), bidi overrides and isolates,
  zero-width and other invisible format characters, private-use, unassigned
  and surrogate code points are rejected with a clear message, never stripped
  silently (so what is stored is what the person saw). The zero-width
  (non-)joiner is accepted only between two letters, where Persian and Indic
  names need it;
- every run of white space becomes one space; leading and trailing space is
  trimmed; empty or white-space-only input counts as missing;
- more than a few combining marks on one letter, or a mark with no letter,
  is rejected;
- lengths are counted in code points after normalisation, against the limit
  from the config, and an absurdly long input is refused before any work.

Each cleaner returns the normalised value or raises ValidationFailed with one
FieldError (field, code, zh, en).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from lobby.services.messages import FieldError, ValidationFailed

MAX_MARKS = 4  # combining marks on one base character (Vietnamese needs 2, some Indic 3)
# Full-width letters and digits fold to ASCII; full-width punctuation （，。：） is ordinary Chinese and stays.
_FOLD = {cp: cp - 0xFEE0 for r in ((0xFF10, 0xFF1A), (0xFF21, 0xFF3B), (0xFF41, 0xFF5B)) for cp in range(*r)}
_FOLD[0x3000] = 0x20
# Letters that draw nothing: used to fake a "blank" name.
_INVISIBLE_LETTERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800", "\u034f"}
_VARIATION = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
_JOINERS = {"\u200c", "\u200d"}
_NAME_PUNCT = set("'’‘-‐‑.·・‧＇－．")


@dataclass(frozen=True)
class Label:
    """How a field is named in messages."""

    zh: str
    en: str


def _error(field: str, code: str, zh: str, en: str) -> ValidationFailed:
    return ValidationFailed(FieldError(field, code, zh, en))


def required_error(field: str, label: Label) -> ValidationFailed:
    return _error(field, "required", f"请填写{label.zh}。", f"Please enter your {label.en}.")


def _too_long(field: str, label: Label, max_len: int) -> ValidationFailed:
    return _error(field, "too_long", f"对不起，{label.zh}最多{max_len}个字，请缩短后再试。",
                  f"Sorry, the {label.en} can be at most {max_len} characters. Please shorten it.")


def _bad_chars(field: str, label: Label, what_zh: str, what_en: str, code: str = "invalid_chars") -> ValidationFailed:
    return _error(field, code, f"对不起，{label.zh}中含有{what_zh}，请删除后重新输入。",
                  f"Sorry, the {label.en} contains {what_en}. Please remove it and type it again.")


def fold(text: str) -> str:
    """NFC, with full-width letters, digits and the ideographic space folded to ASCII."""
    return unicodedata.normalize("NFC", text.translate(_FOLD))


def _check_chars(text: str, field: str, label: Label, multiline: bool) -> str:
    """Reject what no field accepts; return the text with white space unified."""
    out: list[str] = []
    marks = 0
    for i, ch in enumerate(text):
        cat = unicodedata.category(ch)
        if ch == "\n" and multiline:
            out.append("\n")
            marks = 0
            continue
        if cat in ("Zl", "Zp"):
            if multiline:
                out.append("\n")
                marks = 0
                continue
            raise _bad_chars(field, label, "换行", "a line break")
        if cat == "Cc":
            raise _bad_chars(field, label, "控制字符", "a control character", "control_chars")
        if ch in _JOINERS:
            before = text[i - 1] if i else ""
            after = text[i + 1] if i + 1 < len(text) else ""
            if before and after and unicodedata.category(before)[0] in "LM" and unicodedata.category(after)[0] == "L":
                out.append(ch)
                continue
            raise _bad_chars(field, label, "不可见的格式字符", "an invisible formatting character", "format_chars")
        if cat == "Cf" or ch in _INVISIBLE_LETTERS or _VARIATION.match(ch):
            raise _bad_chars(field, label, "不可见的格式字符", "an invisible formatting character", "format_chars")
        if cat in ("Co", "Cn", "Cs"):
            raise _bad_chars(field, label, "无法识别的字符", "a character that cannot be shown", "invalid_chars")
        if cat == "Zs":
            out.append(" ")
            marks = 0
            continue
        if cat[0] == "M":
            marks += 1
            prev = out[-1] if out else ""
            if not prev or prev in " \n":
                raise _bad_chars(field, label, "多余的附加符号", "an accent mark without a letter", "stray_marks")
            if marks > MAX_MARKS:
                raise _bad_chars(field, label, "过多的附加符号", "too many accent marks on one letter", "stray_marks")
        else:
            marks = 0
        out.append(ch)
    return "".join(out)


def _prepare(value: object, field: str, label: Label, max_len: int, required: bool,
             multiline: bool = False) -> str | None:
    if value is None:
        if required:
            raise required_error(field, label)
        return None
    if not isinstance(value, str):
        raise _error(field, "invalid", f"对不起，{label.zh}格式不正确，请重新输入。",
                     f"Sorry, the {label.en} is not in a valid form. Please enter it again.")
    if len(value) > max_len * 4 + 64:  # refuse absurd input before normalising it
        raise _too_long(field, label, max_len)
    text = value.replace("\r\n", "\n").replace("\r", "\n") if multiline else value
    text = _check_chars(fold(text), field, label, multiline)
    if multiline:
        lines = [re.sub(r" {2,}", " ", line).strip() for line in text.split("\n")]
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    else:
        text = re.sub(r" {2,}", " ", text).strip()
    if not text:
        if required:
            raise required_error(field, label)
        return None
    if len(text) > max_len:
        raise _too_long(field, label, max_len)
    return text


# ------------------------------------------------------------------ public cleaners

NAME = Label("姓名", "name")
COMPANY = Label("单位名称", "company name")
PERMIT = Label("施工许可证号", "work permit number")
DESCRIPTION = Label("情况描述", "description")
MESSAGE = Label("留言", "message")


def clean_name(value: object, *, field: str = "name", max_len: int = 40, required: bool = True,
               label: Label = NAME) -> str | None:
    """A person's name in any script: letters, accents, spaces and ' - . · only."""
    text = _prepare(value, field, label, max_len, required)
    if text is None:
        return None
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] in "LM" or ch == " " or ch in _NAME_PUNCT or ch in _JOINERS:
            continue
        if cat[0] == "N":
            raise _error(field, "digits", f"对不起，{label.zh}中请不要包含数字，请重新输入。",
                         f"Sorry, please enter the {label.en} without digits.")
        if cat in ("So", "Sk"):
            raise _bad_chars(field, label, "表情或图形符号", "an emoji or pictograph", "emoji")
        raise _error(field, "symbols", f"对不起，{label.zh}中请只使用文字，不要包含符号。",
                     f"Sorry, please use letters only in the {label.en} (no symbols).")
    if not any(unicodedata.category(ch)[0] == "L" for ch in text):
        raise _error(field, "no_letters", f"对不起，{label.zh}中至少需要一个文字，请重新输入。",
                     f"Sorry, the {label.en} needs at least one letter. Please enter it again.")
    return text


def clean_company(value: object, *, field: str = "company", max_len: int = 80, required: bool = False,
                  label: Label = COMPANY) -> str | None:
    """An organisation name: letters, digits, punctuation and ordinary symbols, no emoji."""
    text = _prepare(value, field, label, max_len, required)
    if text is None:
        return None
    for ch in text:
        if unicodedata.category(ch) in ("So", "Sk") and ch not in "®©™":
            raise _bad_chars(field, label, "表情或图形符号", "an emoji or pictograph", "emoji")
    return text


def clean_code(value: object, *, field: str = "permit_no", max_len: int = 40, required: bool = False,
               label: Label = PERMIT) -> str | None:
    """An identifier someone reads off a document: letters, digits, '-', '/', '_', '.' and spaces."""
    text = _prepare(value, field, label, max_len, required)
    if text is None:
        return None
    for ch in text:
        if unicodedata.category(ch)[0] in "LN" or ch in " -/_.#":
            continue
        raise _error(field, "invalid_chars", f"对不起，{label.zh}只能包含字母、数字和 - / _ .，请重新输入。",
                     f"Sorry, the {label.en} may contain only letters, digits and - / _ . Please enter it again.")
    return text.upper() if text.isascii() else text


def clean_free_text(value: object, *, field: str = "description", max_len: int = 500, required: bool = True,
                    label: Label = DESCRIPTION) -> str | None:
    """Free text over several lines (descriptions, replies): anything visible, emoji included."""
    return _prepare(value, field, label, max_len, required, multiline=True)


def clean_choice(value: object, choices: dict[str, tuple[str, str]] | list[str], *, field: str,
                 label: Label, required: bool = True) -> str | None:
    """One of a fixed list (the screen offers buttons; anything else is refused)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _error(field, "required", f"请选择{label.zh}。", f"Please choose the {label.en}.")
        return None
    if isinstance(value, str) and value.strip() in choices:
        return value.strip()
    raise _error(field, "invalid_choice", f"对不起，请从列表中选择{label.zh}。",
                 f"Sorry, please choose the {label.en} from the list.")


# ------------------------------------------------------------------ text from central, made safe to show

DISPLAY_MAX = 2000  # no notice, directory line or reply is longer on a 10" screen or a 58 mm badge


def safe_display(value: object, max_len: int = DISPLAY_MAX, multiline: bool = False) -> str:
    """Text from central (notices, directory, invitations, replies) made safe for a screen, a badge or a CSV.

    Unlike the cleaners above (which refuse, so a person can retype), this never
    fails: central's text is shown as sent, less what can mislead or break a
    display: control characters (NUL, ESC, BEL ...), bidi overrides and isolates,
    zero-width and other format characters, private-use, unassigned and surrogate
    code points, and combining marks beyond MAX_MARKS on one letter. White space
    is unified and the result cut to `max_len` code points.
    """
    if not isinstance(value, str):
        return ""
    text = fold(value[: max_len * 4 + 64].replace("\r\n", "\n").replace("\r", "\n"))
    out: list[str] = []
    marks = 0
    for ch in text:
        cat = unicodedata.category(ch)
        if ch == "\n" or cat in ("Zl", "Zp"):
            out.append("\n" if multiline else " ")
            marks = 0
        elif cat in ("Cc", "Cf", "Co", "Cn", "Cs") or ch in _INVISIBLE_LETTERS:
            continue
        elif cat == "Zs":
            out.append(" ")
            marks = 0
        elif cat[0] == "M":
            marks += 1
            if marks <= MAX_MARKS and out and out[-1] not in " \n":
                out.append(ch)
        else:
            marks = 0
            out.append(ch)
    lines = [re.sub(r" {2,}", " ", line).strip() for line in "".join(out).split("\n")]
    cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return cleaned[:max_len].rstrip()


def is_display_safe(text: str, max_len: int = DISPLAY_MAX) -> bool:
    """What safe_display guarantees (for tests and assertions)."""
    return safe_display(text, max_len, multiline=True) == text
