"""Notices central shows on the home screen (notice.show / notice.hide)."""

from __future__ import annotations

from dataclasses import dataclass

from lobby.services.context import ServiceContext
from mqtt_bridge.clock import Instant, parse_ts


@dataclass(frozen=True)
class Notice:
    notice_id: str
    title: str
    body: str


def current_notices(ctx: ServiceContext, now: Instant | None = None, limit: int = 5) -> list[Notice]:
    """Notices not yet past their `until`, newest first."""
    now = ctx.now(now)
    found = ctx.store.query("SELECT notice_id, title, body, until_ts FROM notices ORDER BY shown_ts DESC")
    out = []
    for r in found:
        if r["until_ts"]:
            try:
                if parse_ts(r["until_ts"]) <= now.wall:
                    continue
            except ValueError:
                pass
        out.append(Notice(r["notice_id"], r["title"], r["body"] or ""))
        if len(out) >= limit:
            break
    return out
