"""设施设备完好率: the share of the inventory in good order, per day (DOMAIN: at least 98 %).

The sources define it as devices in good order divided by all devices, not as a share of
time. The inventory is every device this site has configured (each meter, NFC reader on
the kiosk or the gateway, GPIO button, the badge printer) plus any device a driver reports
(an RS-485 line). Each health sample (every `alerts.health_interval_s`) records every
inventory device's state; a device is *in good order for the day* only if every sample of
that day found it `ok`: a degraded device is not in good order, nor one that was lost for
a minute, nor one nobody could report on (the kiosk was down: `unknown`). The month's
figure counts device-days. `facility.kpi` is published once per finished day and month
and the staff screen shows yesterday's and today's figures.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from drivers.health import DeviceHealth

from lobby.config import Config
from mqtt_bridge.store import Store

RANK = {"ok": 0, "degraded": 1, "unknown": 2, "lost": 3}


def inventory(cfg: Config) -> dict[str, str]:
    """Every configured device, by id, with its kind."""
    found: dict[str, str] = {m.id: "meter" for m in cfg.meters}
    found.update({r.id: "reader" for r in cfg.readers})
    found.update({b.id: "button" for b in cfg.buttons})
    if cfg.printer.kind != "none":
        found["badge-printer"] = "printer"
    return found


class FacilityKpi:
    def __init__(self, cfg: Config, store: Store) -> None:
        self.cfg = cfg
        self.store = store

    def sample(self, day: str, devices: list[DeviceHealth]) -> None:
        """Record one observation of every inventory device (and every reported one) for `day`."""
        states = {d.device_id: d.state.value for d in devices}
        kinds = inventory(self.cfg)
        bus_ids = {b.id for b in self.cfg.buses}
        for device_id in states:
            kinds.setdefault(device_id, "line" if device_id in bus_ids else "device")
        with self.store.transaction() as tx:
            for device_id, kind in kinds.items():
                state = states.get(device_id, "unknown")
                tx.execute(
                    "INSERT INTO device_condition (day, device_id, kind, samples, good_samples, worst) "
                    "VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT(day, device_id) DO UPDATE SET "
                    "samples = samples + 1, good_samples = good_samples + excluded.good_samples, "
                    "worst = CASE WHEN ? > (CASE worst WHEN 'ok' THEN 0 WHEN 'degraded' THEN 1 WHEN 'unknown' THEN 2 "
                    "ELSE 3 END) THEN excluded.worst ELSE worst END",
                    (day, device_id, kind, int(state == "ok"), state, RANK.get(state, 3)))

    def figures(self, period: str, start: str) -> dict[str, Any]:
        """The KPI over a site-local day ('YYYY-MM-DD') or month ('YYYY-MM'), counted in device-days."""
        pattern = start if period == "day" else f"{start}-%"
        rows = self.store.query("SELECT day, device_id, kind, worst FROM device_condition WHERE day LIKE ? "
                                "ORDER BY day, device_id", (pattern,))
        total = len(rows)
        good = sum(1 for r in rows if r["worst"] == "ok")
        kinds: dict[str, list[int]] = {}
        for r in rows:
            tally = kinds.setdefault(r["kind"], [0, 0])
            tally[0] += r["worst"] == "ok"
            tally[1] += 1
        not_good: dict[str, str] = {}
        for r in rows:
            if r["worst"] != "ok" and RANK.get(r["worst"], 3) >= RANK.get(not_good.get(r["device_id"], "ok"), 0):
                not_good[r["device_id"]] = r["worst"]
        pct = round(100.0 * good / total, 2) if total else None
        target = self.cfg.kpi.facility_uptime_target_pct
        return {"period": period, "start": start, "inventory": total, "in_good_order": good, "good_order_pct": pct,
                "target_pct": target, "met_target": None if pct is None else pct >= target,
                "by_kind": {k: {"in_good_order": v[0], "inventory": v[1]} for k, v in sorted(kinds.items())},
                "not_in_good_order": not_good}

    def publish(self, today: dt.date, now_ts: str) -> list[dict[str, Any]]:
        """Publish yesterday's figure (and last month's on the 1st), once each."""
        yesterday = today - dt.timedelta(days=1)
        periods = [("day", yesterday.isoformat())]
        if today.day == 1:
            periods.append(("month", yesterday.strftime("%Y-%m")))
        published = []
        for period, start in periods:
            figures = self.figures(period, start)
            if figures["good_order_pct"] is None:
                continue
            with self.store.transaction() as tx:
                done = tx.execute("SELECT 1 FROM periodic_done WHERE job = 'facility.kpi' AND period = ?",
                                  (f"{period}:{start}",)).fetchone()
                if done:
                    continue
                tx.execute("INSERT INTO periodic_done (job, period, done_ts) VALUES ('facility.kpi', ?, ?)",
                           (f"{period}:{start}", now_ts))
                tx.emit("health", "facility.kpi", figures)
            published.append(figures)
        return published
