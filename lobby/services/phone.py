"""Phone numbers: mainland mobiles and international numbers in E.164 form.

Accepted: an 11-digit mainland mobile `1[3-9]xxxxxxxxx`, with or without +86 /
0086, spaces, dashes, dots or brackets, in any digit script (full-width ０-９
included); or an international number written +CC then digits (7-15 digits in
all, E.164). Stored canonical: mainland as its 11 digits, others as "+<digits>".
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

from lobby.services.messages import FieldError, ValidationFailed
from lobby.services.text import Label

PHONE = Label("手机号", "mobile number")
_MAINLAND = re.compile(r"1[3-9]\d{9}")
_INTL = re.compile(r"[1-9]\d{6,14}")
_SEPARATORS = set(" -‐‑‒–—().\u00a0\u3000")


def _invalid(field: str, label: Label) -> ValidationFailed:
    return ValidationFailed(FieldError(
        field, "invalid_phone",
        f"对不起，{label.zh}格式不正确。请输入11位手机号，或以+开头的国际号码（如 +44 7911 123456）。",
        f"Sorry, that {label.en} doesn't look right. Please enter an 11-digit mainland mobile number, "
        f"or an international number starting with + (e.g. +44 7911 123456)."))


def normalise_phone(value: object, *, field: str = "phone", required: bool = True,
                    label: Label = PHONE) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationFailed(FieldError(field, "required", f"请填写{label.zh}。",
                                              f"Please enter your {label.en}."))
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise _invalid(field, label)
    chars: list[str] = []
    for ch in unicodedata.normalize("NFKC", value):
        if ch in _SEPARATORS or unicodedata.category(ch) == "Zs":
            continue
        if ch == "+" and not chars:
            chars.append("+")
            continue
        if unicodedata.category(ch) == "Nd":
            chars.append(str(unicodedata.decimal(ch)))
            continue
        raise _invalid(field, label)
    text = "".join(chars)
    if text.startswith("00"):
        text = "+" + text[2:]
    if text.startswith("+"):
        digits = text[1:]
        if digits.startswith("86"):
            national = digits[2:]
            if _MAINLAND.fullmatch(national):
                return national
            raise _invalid(field, label)
        if _INTL.fullmatch(digits):
            return "+" + digits
        raise _invalid(field, label)
    if _MAINLAND.fullmatch(text):
        return text
    if text.startswith("86") and _MAINLAND.fullmatch(text[2:]):
        return text[2:]
    raise _invalid(field, label)


def mask_phone(phone: str | None) -> str:
    """138****5678 for mainland mobiles; +44******3456 for international numbers."""
    if not phone:
        return ""
    if phone.startswith("+"):
        digits = phone[1:]
        keep_head = min(2, max(len(digits) - 4, 0))
        return "+" + digits[:keep_head] + "*" * (len(digits) - keep_head - 4) + digits[-4:]
    if len(phone) == 11:
        return phone[:3] + "****" + phone[-4:]
    return "*" * max(len(phone) - 4, 0) + phone[-4:]


def last4(phone: str | None) -> str:
    return phone[-4:] if phone else ""


def phone_hmac(key: bytes, value: str) -> str:
    """The watch-list form of a phone: HMAC-SHA256 under the site key of its canonical form.

    A plain SHA-256 of an 11-digit number is reversed by hashing every number; keyed,
    the digest says nothing without the key file in the state directory."""
    canonical = normalise_phone(value)
    assert canonical is not None
    return hmac.new(key, b"watchlist-phone\x1f" + canonical.encode(), hashlib.sha256).hexdigest()


def mask_name(name: str | None) -> str:
    """张* / 张*伟 / J*** S****: enough for a person to recognise their own visit in a list."""
    if not name:
        return "*"
    words = name.split(" ")
    if len(words) == 1:
        word = words[0]
        if len(word) <= 1:
            return word + "*"
        if len(word) == 2:
            return word[0] + "*"
        if not word.isascii() and len(word) <= 4:
            return word[0] + "*" * (len(word) - 2) + word[-1]
        return word[0] + "*" * min(len(word) - 1, 3)
    return " ".join(w[0] + "*" * min(max(len(w) - 1, 1), 3) for w in words if w)
