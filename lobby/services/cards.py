"""Staff cards: which tapped card opens the staff screen (the cards table holds keyed hashes only)."""

from __future__ import annotations

from dataclasses import dataclass

from lobby.cardhash import card_hash
from lobby.services.context import ServiceContext


@dataclass(frozen=True)
class StaffCard:
    holder_id: str | None  # central's id of the holder; None for the config allowlist


def staff_card(ctx: ServiceContext, uid: str) -> StaffCard | None:
    """The active staff card with this UID, or None (passes.link_card refuses staff cards)."""
    try:
        digest = card_hash(ctx.card_key, uid)
    except (TypeError, ValueError):
        return None
    found = ctx.store.query("SELECT holder_id FROM cards WHERE uid_hash = ? AND role = 'staff' AND active = 1",
                            (digest,))
    return StaffCard(found[0]["holder_id"]) if found else None
