"""What a staff card alone opens on the staff screen, and what also needs the PIN.

A card UID is easy to clone, so the card alone shows only what carries no
personal data (alerts, devices, patrol, today's counts). Visitors' names (People,
with the roll call, and Held) and the settings need the PIN as well, and so does
every action on a person (approve, deny, mark safe). One PIN unlock lasts for the
staff session (until the screen is left). The screen asks; this module decides.
"""

from __future__ import annotations

CARD_ONLY_TABS = frozenset({"alerts", "devices", "patrol", "today"})
PIN_TABS = frozenset({"people", "held", "settings"})
PIN_ACTIONS = frozenset({"approve", "deny", "safe", "unsafe", "start_roll", "close_roll", "print_roll", "reprint"})


def tab_needs_pin(tab: str) -> bool:
    """True unless the tab is known to show no personal data (an unknown tab needs the PIN)."""
    return tab not in CARD_ONLY_TABS


def action_needs_pin(action: str) -> bool:
    """Acting on a person, or printing names, needs the PIN; acknowledging an alert does not."""
    return action != "ack"
