"""The optional watch list: a matching check-in is held for staff approval.

Entries come from the config (`visitors.watchlist`), never from the store. A
phone is listed only as the HMAC of its canonical form under the site key
(phone.phone_hmac, made with `lobby hash-phone`), so neither the config file nor
the store holds the number itself, nor anything that a list of numbers reverses; a name is
compared after the same normalisation as the form, ignoring case and spaces.
"""

from __future__ import annotations

import hmac

from lobby.config import Config

from lobby.services.messages import ValidationFailed
from lobby.services.phone import phone_hmac
from lobby.services.text import clean_name, fold


def _name_key(name: str) -> str:
    return fold(name).casefold().replace(" ", "")


def match(cfg: Config, key: bytes, name: str, phone: str) -> str | None:
    """The id of the first entry matching this (already normalised) name or phone, or None."""
    if not cfg.visitors.watchlist_enabled or not cfg.visitors.watchlist:
        return None
    phone_digest = phone_hmac(key, phone)
    key = _name_key(name)
    for entry in cfg.visitors.watchlist:
        if entry.phone_hmac is not None and hmac.compare_digest(entry.phone_hmac, phone_digest):
            return entry.id
        if entry.name is not None:
            try:
                listed = clean_name(entry.name, max_len=200)
            except ValidationFailed:
                listed = entry.name
            if listed and _name_key(listed) == key:
                return entry.id
    return None
