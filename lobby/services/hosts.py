"""The directory of hosts a visitor may visit (central fills it with directory.update)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mqtt_bridge.store import Store, Transaction

from lobby.services.context import row
from lobby.services.text import fold


@dataclass(frozen=True)
class Host:
    id: str
    unit: str
    company: str
    person: str
    floor: str

    @property
    def label(self) -> str:
        """What the host picker shows: 12F-1203 · 华润置地 · 李娜."""
        return " · ".join(p for p in (self.unit, self.company, self.person) if p)


def _host(r: dict[str, Any]) -> Host:
    return Host(r["id"], r["unit"], r["company"], r["person"], r["floor"])


def get_host(tx: Transaction, host_id: str) -> Host | None:
    found = row(tx, "SELECT * FROM directory WHERE id = ? AND active = 1", (host_id,))
    return _host(found) if found else None


def search_hosts(store: Store, query: str = "", limit: int = 50) -> list[Host]:
    """Active hosts whose unit, company, person or floor contains the query (case-insensitive)."""
    entries = [_host(r) for r in store.query(
        "SELECT * FROM directory WHERE active = 1 ORDER BY floor, unit, company, person")]
    needle = fold(query or "").strip().casefold()
    if not needle:
        return entries[:limit]
    return [h for h in entries
            if any(needle in fold(v).casefold() for v in (h.unit, h.company, h.person, h.floor))][:limit]
