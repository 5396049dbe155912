"""Through the bridge and a real broker: events made before NTP synced reach central as recorded,
then one `time.corrected` for their seq range, even when the gateway restarted in between."""

from __future__ import annotations

import pytest

from lobby.runtime import Runtime
from mqtt_bridge.store import outbox
from mqtt_bridge.timebase import BOOT_ID
from tests.helpers.broker import Broker
from tests.helpers.central import Central


def test_unsynced_events_then_a_restart_then_the_sync_bring_one_time_corrected(
        broker: Broker, make_config, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("LOBBY_CLOCK_SYNCED", "0")  # NTP blocked: the kiosk still works, events still go
    cfg = make_config(broker.port)
    central = Central(broker.port, cfg.base_topic)
    rt = Runtime(cfg, None)
    try:
        rt.start()
        for i in range(5):
            rt.store.emit("health", "gateway.started", {"version": "t", "config_version": i})
        rt.bridge.wake()
        last = outbox.last_seq(rt.store.connection())
        central.wait_seqs(last)
        with central.lock:
            assert all(e["clock_synced"] is False and e["boot_id"] == BOOT_ID for e in central.events)
        rt.stop()  # the gateway restarts before the clock syncs

        monkeypatch.setenv("LOBBY_CLOCK_SYNCED", "1")
        rt = Runtime(cfg, None)
        rt.start()
        central.wait_for(lambda: central.events_of("time.corrected"), timeout=30, what="time.corrected")
        [fix] = central.events_of("time.corrected")
        assert fix["data"]["boot_id"] == BOOT_ID and fix["data"]["first_seq"] == 1
        assert fix["data"]["last_seq"] >= last and fix["data"]["events"] >= last
        assert central.events_of("time.uncorrectable") == []
    finally:
        rt.stop()
        central.close()
    assert central.invalid == [], central.invalid[:5]
