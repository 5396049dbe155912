"""Writing a poll cycle: the readings (bulk lane), latest values, registers, day edges and alert changes, at once.

If the transaction fails, nothing the analyzers believe was written stays believed,
so the next cycle writes it again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from typing import Any

from drivers.meters.reading import Quality, Reading
from lobby.meters.analysis import TITLES, AlertChange, Analysis, Sample
from lobby.meters.lines import BusRunner, MeterState
from mqtt_bridge.alerts import AlertEngine
from mqtt_bridge.store import Lane, Store
from mqtt_bridge.store.outbox import append_events
from mqtt_bridge.store.stall import is_stall
from mqtt_bridge.timebase import rfc3339

log = logging.getLogger("lobby.meters.service")
SLOT = dt.timedelta(minutes=15)  # meter_slots: the staff screen's sparklines
SLOTS_KEPT = dt.timedelta(days=2)


def _slot_start(at: dt.datetime) -> dt.datetime:
    at = at.astimezone(dt.timezone.utc)
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


class CycleRecorder:
    def __init__(self, store: Store, alerts: AlertEngine) -> None:
        self.store = store
        self.alerts = alerts

    def samples(self, meter: MeterState, reading: Reading) -> dict[str, Sample]:
        now = time.monotonic()
        out: dict[str, Sample] = {}
        for b in meter.points:
            pv = reading.values.get(b.native)
            if pv is None:
                out[b.name] = Sample(None, b.unit, Quality.ERROR.value)
                continue
            value = b.convert(pv.value)
            quality = pv.quality.value if value is not None else Quality.ERROR.value
            age = round(now - pv.read_mono, 1) if quality == "stale" and pv.read_mono is not None else None
            out[b.name] = Sample(value, b.unit, quality, age)
        return out

    def write(self, runner: BusRunner, results: list[tuple[MeterState, Reading, dt.datetime]]) -> int:
        """One poll cycle in one transaction: readings, latest values, registers, day edges, alert changes."""
        if not results:
            return 0
        events: list[tuple[str, str, dict[str, Any]]] = []
        latest: list[tuple[Any, ...]] = []
        registers: list[tuple[Any, ...]] = []
        edges: list[tuple[Any, ...]] = []
        slots: list[tuple[Any, ...]] = []
        changes: list[tuple[MeterState | None, AlertChange]] = []
        analyses: list[tuple[MeterState, Analysis]] = []
        for meter, reading, at in results:
            samples = self.samples(meter, reading)
            reason = ""
            counters: dict[str, int] = {}
            try:
                reason = runner.bus.offline_reason(meter.cfg.id) or reading.health.reason
                counters = runner.bus.counters(meter.cfg.id).as_dict()
            except Exception:
                log.exception("%s: bus counters unavailable", meter.cfg.id)
            assert meter.analyzer is not None
            analysis = meter.analyzer.observe(samples, at, reason=reason or _first_error(reading), counters=counters)
            analyses.append((meter, analysis))
            read_ts = rfc3339(at)
            values = {name: _value_json(s) for name, s in samples.items()}
            data: dict[str, Any] = {"meter_id": meter.cfg.id, "kind": meter.kind, "place": meter.cfg.place,
                                    "read_at": read_ts, "values": values}
            events.append(("meter", "meter.reading", data))
            latest.append((meter.cfg.id, read_ts, int(all(s.quality == "good" for s in samples.values())),
                           meter.analyzer.failed_polls, reading.health.state.value, reading.health.reason[:500],
                           json.dumps(values, ensure_ascii=False, separators=(",", ":"))))
            for point, state in analysis.registers.items():
                registers.append((meter.cfg.id, point, samples[point].unit, state.value, rfc3339(state.at),
                                  state.odometer))
            billing = meter.analyzer.billing
            if billing is not None and billing in analysis.registers:
                state = analysis.registers[billing]
                slots.append((meter.cfg.id, rfc3339(_slot_start(state.at)), billing, samples[billing].unit,
                              state.odometer, rfc3339(state.at - SLOTS_KEPT)))
            if analysis.edge is not None:
                day, point, state = analysis.edge
                edges.append((meter.cfg.id, day, point, samples[point].unit, rfc3339(state.at), state.value,
                              state.odometer))
            changes += [(meter, c) for c in analysis.changes]
        bus_key = f"meter.bus_down:{runner.cfg.id}"
        port_reason = runner.bus.port_reason
        action = runner.down.observe(bool(port_reason))
        if action is not None:
            title = f"{TITLES['meter.bus_down']}: {runner.cfg.id}"
            changes.append((None, AlertChange(bus_key, action, "warning", title,
                                              {"bus_id": runner.cfg.id, "port": runner.cfg.port,
                                               "reason": port_reason})))
        try:
            with self.store.transaction() as tx:
                append_events(tx.conn, events, Lane.BULK, records=False)
                tx.conn.executemany(
                    "INSERT INTO meter_latest (meter_id, read_ts, ok, failed_polls, health, reason, data) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (meter_id) DO UPDATE SET read_ts = excluded.read_ts, "
                    "ok = excluded.ok, failed_polls = excluded.failed_polls, health = excluded.health, "
                    "reason = excluded.reason, data = excluded.data", latest)
                if registers:
                    tx.conn.executemany(
                        "INSERT INTO meter_registers (meter_id, point, unit, value, read_ts, odometer) "
                        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (meter_id, point) DO UPDATE SET unit = excluded.unit, "
                        "value = excluded.value, read_ts = excluded.read_ts, odometer = excluded.odometer", registers)
                if edges:
                    tx.conn.executemany(
                        "INSERT OR IGNORE INTO meter_day_edges (meter_id, day, point, unit, read_ts, value, odometer) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)", edges)
                for meter_id, slot_ts, point, unit, odometer, older in slots:
                    tx.conn.execute(
                        "INSERT INTO meter_slots (meter_id, slot_ts, point, unit, odometer) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (meter_id, slot_ts) DO UPDATE SET point = excluded.point, unit = excluded.unit, "
                        "odometer = excluded.odometer", (meter_id, slot_ts, point, unit, odometer))
                    tx.conn.execute("DELETE FROM meter_slots WHERE meter_id = ? AND slot_ts < ?", (meter_id, older))
                for _, change in changes:
                    if change.action == "raise":
                        self.alerts.raise_alert(change.key, change.severity, change.title, change.detail, tx=tx)
                    else:
                        self.alerts.clear(change.key, tx=tx)
        except Exception as exc:
            runner.write_errors += 1
            if not is_stall(exc):  # a stalled store is logged once, by the store (mqtt_bridge/store/stall.py)
                log.exception("%s: poll cycle of %d meters not saved", runner.cfg.id, len(results))
            self._revert(runner, changes, analyses)
            return 0
        for meter, change in changes:
            log.info("%s %s: %s", "raised" if change.action == "raise" else "cleared", change.key,
                     change.detail.get("reason", ""))
        return len(events)

    @staticmethod
    def _revert(runner: BusRunner, changes: list[tuple[MeterState | None, AlertChange]],
                analyses: list[tuple[MeterState, Analysis]]) -> None:
        """Nothing was saved: undo what the analyzers believe was written, so it is written next time."""
        for meter, change in changes:
            hyst = runner.down if meter is None else None
            if meter is not None and meter.analyzer is not None:
                kind = change.key.split(":", 1)[0]
                hyst = meter.analyzer.hyst.get(kind)
            if hyst is not None:
                hyst.active = change.action != "raise"
        for meter, analysis in analyses:
            if analysis.edge is not None and meter.analyzer is not None:
                meter.analyzer.last_edge_day = None


def _value_json(sample: Sample) -> dict[str, Any]:
    out: dict[str, Any] = {"value": sample.value, "unit": sample.unit, "quality": sample.quality}
    if sample.age_s is not None:
        out["age_s"] = max(sample.age_s, 0.0)
    return out


def _first_error(reading: Reading) -> str:
    return next((v.error for v in reading.values.values() if v.error), "")
