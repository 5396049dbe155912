"""Times recorded before NTP synchronised: sent as recorded, corrected by one `time.corrected` (issue #19).

Defects reproduced here (each failed before the fix):
- the pump repaired only the envelope's `ts` and sent `clock_synced: true`, while the times in
  `data` (a ticket's created_at, its due) stayed on the wrong clock: central was told the time
  was good when it was not (`test_an_unsynced_event_is_sent_as_recorded_not_marked_synced`);
- the envelope had no boot id or monotonic time, so nothing from before a reboot could ever be
  placed (`test_the_envelope_carries_the_boot_and_the_monotonic_time`);
- other records' time fields were never corrected (`test_one_time_corrected_fixes_every_time_of_the_range`),
  nor after a restart (`test_the_correction_survives_a_restart_before_the_sync`), and a boot that
  never synced left its times silently wrong (`test_a_boot_that_never_synced_is_marked_uncorrectable`).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from mqtt_bridge import schemas, timesync
from mqtt_bridge.settings import BridgeSettings, MqttConfig
from mqtt_bridge.pump import OutboxPump
from mqtt_bridge.session import BridgeStatus
from mqtt_bridge.store import Lane, Store, outbox
from mqtt_bridge.timebase import BOOT_ID, Stamp, monotonic_ns, parse_rfc3339, rfc3339, utc_now
from mqtt_bridge.topics import Topics

WRONG_BY = dt.timedelta(days=-3, hours=-2)  # a Pi that booted with fake-hwclock's last saved time


def wrong_stamp(boot_id: str = BOOT_ID) -> tuple[Stamp, dt.datetime]:
    """A stamp as an unsynchronised clock gives it, and the true time of that moment."""
    mono = monotonic_ns()
    true = utc_now()
    return Stamp(rfc3339(true + WRONG_BY), boot_id, mono, False), true


def _envelope(store: Store, seq: int) -> dict:
    row = store.connection().execute(f"SELECT {outbox._COLUMNS} FROM outbox WHERE seq = ?", (seq,)).fetchone()  # noqa: SLF001
    return outbox._record(row).envelope(False)  # noqa: SLF001


def test_the_envelope_carries_the_boot_and_the_monotonic_time(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        record = store.emit("health", "gateway.started", {"version": "t", "config_version": 1})
        wire = json.loads(record.payload(False))
        assert wire["boot_id"] == BOOT_ID and 0 < wire["mono_ns"] <= monotonic_ns()
        assert schemas.validate_event("health", wire) is None
        del wire["mono_ns"]
        assert schemas.validate_event("health", wire) is not None  # required by the contract
        with store.transaction() as tx:
            items = outbox.append_events(tx.conn, [("meter", "meter.reading", {
                "meter_id": "m1", "kind": "electricity",
                "values": {"energy_total": {"value": 1.0, "unit": "kWh", "quality": "good"}}})])
        batch = json.loads(b'{"items":[' + items[0].payload(True) + b"]}")
        assert schemas.validate_batch("meter", batch) is None and batch["items"][0]["boot_id"] == BOOT_ID


def test_an_unsynced_event_is_sent_as_recorded_not_marked_synced(tmp_path: Path) -> None:
    settings = BridgeSettings(MqttConfig(host="127.0.0.1"), "lobby/t/g", "c", "g")
    with Store(tmp_path / "s.db") as store:
        stamp, _ = wrong_stamp()
        with store.transaction() as tx:
            record = outbox.append_event(tx.conn, "ticket", "ticket.created", {"created_at": stamp.ts}, stamp=stamp)
        pump = OutboxPump(settings, store, Topics("lobby/t/g"), BridgeStatus())
        wire = json.loads(pump._wire_payload(record, monotonic_ns()))  # noqa: SLF001 - the clock is synced now (tests)
        assert wire["clock_synced"] is False  # was true, with ts repaired and data's times still wrong
        assert wire["ts"] == stamp.ts == wire["data"]["created_at"]  # ts and data on the same clock
        assert wire["mono_ns"] == stamp.mono_ns


def test_one_time_corrected_fixes_every_time_of_the_range(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.emit("health", "gateway.started", {"version": "t", "config_version": 1})  # synced: not in the range
        truths = {}
        for i in range(3):
            stamp, true = wrong_stamp()
            with store.transaction() as tx:
                rec = outbox.append_event(tx.conn, "ticket", "ticket.created",
                                          {"created_at": stamp.ts, "due": rfc3339(parse_rfc3339(stamp.ts) + dt.timedelta(hours=2))},
                                          stamp=stamp)
            truths[rec.seq] = true
        stamp, true = wrong_stamp()
        with store.transaction() as tx:
            bulk = outbox.append_events(tx.conn, [("meter", "meter.reading", {"meter_id": "m1"})] * 2, stamp=stamp)
        truths.update({r.seq: true for r in bulk})
        assert timesync.correct(store, synced=False) == []  # nothing to say before the sync
        [fix] = timesync.correct(store, synced=True)
        assert (fix["first_seq"], fix["last_seq"], fix["events"]) == (2, 6, 5)
        assert abs(fix["shift_ms"] + WRONG_BY.total_seconds() * 1000) < 1000
        event = _envelope(store, outbox.last_seq(store.connection()))
        assert event["type"] == "time.corrected" and event["clock_synced"] is True
        assert schemas.validate_event("health", event) is None
        for seq, true in truths.items():  # what central does with it, for every time field
            env = _envelope(store, seq)
            assert env["clock_synced"] is False and env["boot_id"] == fix["boot_id"]
            shift = dt.timedelta(milliseconds=fix["offset_after_ms"] + env["mono_ns"] // 1_000_000) \
                - (parse_rfc3339(env["ts"]) - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc))
            assert abs((parse_rfc3339(env["ts"]) + shift - true).total_seconds()) < 0.01
            if "created_at" in env["data"]:
                assert abs((parse_rfc3339(env["data"]["created_at"]) + shift - true).total_seconds()) < 0.01
                assert abs((parse_rfc3339(env["data"]["due"]) + shift - true).total_seconds() - 7200) < 0.01
        assert timesync.pending(store) == [] and timesync.correct(store, synced=True) == []


def test_the_correction_survives_a_restart_before_the_sync(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        stamp, _ = wrong_stamp()
        with store.transaction() as tx:
            outbox.append_event(tx.conn, "feedback", "feedback.press", {"pressed_at": stamp.ts}, stamp=stamp)
    with Store(tmp_path / "s.db") as store:  # the gateway restarted; same boot; now the clock syncs
        assert [r["events"] for r in timesync.pending(store)] == [1]
        [fix] = timesync.correct(store, synced=True)
        assert fix["boot_id"] == BOOT_ID and fix["first_seq"] == fix["last_seq"] == 1


def test_a_boot_that_never_synced_is_marked_uncorrectable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOBBY_CLOCK_SYNCED", "0")  # this boot has not synced yet either
    with Store(tmp_path / "s.db") as store:
        old, _ = wrong_stamp(boot_id="0b5e1e7e-0000-4000-8000-000000000001")
        with store.transaction() as tx:
            outbox.append_event(tx.conn, "visitor", "visitor.checked_out", {"at": old.ts}, stamp=old)
        [mark] = timesync.correct(store, synced=False)  # no need to wait for this boot's sync
        event = _envelope(store, outbox.last_seq(store.connection()))
        assert event["type"] == "time.uncorrectable" and mark["boot_id"] == old.boot_id
        assert "offset_after_ms" not in mark and (mark["first_seq"], mark["last_seq"]) == (1, 1)
        assert schemas.validate_event("health", event) is None
        # its own event was stamped unsynced (this boot): that one is corrected once the clock syncs
        assert [r["boot_id"] for r in timesync.pending(store)] == [BOOT_ID]
        monkeypatch.setenv("LOBBY_CLOCK_SYNCED", "1")
        [fix] = timesync.correct(store)
        assert fix["first_seq"] == fix["last_seq"] == event["seq"]


@pytest.mark.parametrize("stepped", [False, True])
def test_a_clock_stepped_while_unsynced_reports_both_offsets(tmp_path: Path, stepped: bool) -> None:
    with Store(tmp_path / "s.db") as store:
        first, _ = wrong_stamp()
        second = Stamp(rfc3339(parse_rfc3339(first.ts) + dt.timedelta(hours=1 if stepped else 0)), BOOT_ID,
                       first.mono_ns, False)
        with store.transaction() as tx:
            outbox.append_event(tx.conn, "health", "gateway.started", {"version": "t", "config_version": 1}, stamp=first)
            outbox.append_event(tx.conn, "health", "gateway.started", {"version": "t", "config_version": 2}, stamp=second)
        [fix] = timesync.correct(store, synced=True)
        assert ("offset_before_last_ms" in fix) is stepped
        assert schemas.validate_event("health", _envelope(store, outbox.last_seq(store.connection()))) is None
        assert Lane.CRITICAL == 0  # the corrections ride the critical lane: never dropped by the budget
