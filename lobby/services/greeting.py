"""Greet an arriving visitor within a minute (DOMAIN: visitors; service.greet_visitor_within_s).

A check-in held for staff approval (the watch list) is a person standing at the lobby desk
waiting. The kiosk tells them how long the wait is (visitors.py, the held message); if no
one has approved or denied the check-in within greet_visitor_within_s, its alert climbs to
critical, once, so the desk hears it. Approving or denying clears it (visitors.py).
"""

from __future__ import annotations

from mqtt_bridge.alerts import Severity, alert_key
from mqtt_bridge.clock import Instant

from lobby.services.context import ServiceContext, rows


def check_waiting(ctx: ServiceContext, now: Instant) -> list[str]:
    """Escalate the alert of each held check-in not greeted in time; returns the visit ids that climbed now."""
    greet_s = ctx.cfg.service.greet_visitor_within_s
    climbed: list[str] = []
    alerts = ctx.alerts
    assert alerts is not None
    with ctx.store.transaction() as tx:
        for v in rows(tx, "SELECT id, party_size, checked_in_ts, boot_id, mono_ns FROM visits WHERE status = 'held'"):
            since = Instant.from_columns(v["checked_in_ts"], v["boot_id"], v["mono_ns"])
            assert since is not None
            key = alert_key("visitor.held", v["id"])
            alert = alerts.get(key)
            if now.seconds_since(since) < greet_s or alert is None or alert["severity"] == "critical":
                continue
            alerts.escalate(key, Severity.CRITICAL, f"访客等候超过{greet_s:g}秒，请立即接待 "
                            f"Visitor waiting over {greet_s:g} s: please greet now",
                            {"visit_id": v["id"], "party_size": v["party_size"], "waiting": True,
                             "greet_within_s": greet_s}, tx=tx)
            climbed.append(v["id"])
    return climbed
