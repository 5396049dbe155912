"""A store that cannot write, against a real `lobby gateway --simulate` process and mosquitto.

The defect: while the store refused writes (an SD card in trouble, a lock another process
kept), every meter poll, health report and acknowledgement logged its own failure with a
traceback, every few seconds, and central never learnt that the gateway had lost data for
a while. Now the gateway logs one line when the store stalls and one when it recovers (with
the duration), keeps running, and sends central one `store.stalled` with start, end and
duration once writes go through again.

The stall here is real: the test holds the store's write lock from another process (as a
stuck backup or kiosk would), so every write of the gateway waits its busy timeout and
fails with "database is locked"; then the test lets go.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from lobby.config import load_config, state_path
from tests.helpers.broker import Broker
from tests.helpers.central import Central
from tests.helpers.gateway_rig import GatewayProcess, gateway_config

HOLD_AFTER_STALL_S = 12  # how long the fault lasts once the gateway noticed it: several failed writes per thread


def test_a_stalled_store_is_logged_once_each_way_and_reported_once(broker: Broker, tmp_path: Path) -> None:
    config = tmp_path / "lobby.toml"
    config.write_text(gateway_config(tmp_path / "state", broker.port, extra="[alerts]\nhealth_interval_s = 1\n"))
    cfg = load_config(config)
    central = Central(broker.port, cfg.base_topic)
    log_path = tmp_path / "gateway.log"
    gateway = GatewayProcess(config, log_path, log_level="INFO").start()

    def log() -> str:
        return log_path.read_text(errors="replace")

    try:
        central.wait_for(lambda: central.events_of("health.report") and central.events_of("meter.reading"),
                         timeout=60, what="the gateway running, reading meters")
        lock = sqlite3.connect(state_path(cfg, cfg.store.path), isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # the write lock, held from another process
        try:
            central.wait_for(lambda: "store stalled" in log(), timeout=60, what=f"the stall logged\n{log()[-3000:]}")
            before = len(log())
            time.sleep(HOLD_AFTER_STALL_S)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        central.wait_for(lambda: central.events_of("store.stalled"), timeout=60,
                         what=f"store.stalled at central\n{log()[-3000:]}")
        text = log()
        assert text.count("store stalled") == 1 and text.count("store recovered") == 1, text[-4000:]
        assert "Traceback" not in text[before:], text[before:][-4000:]
        during = text[before:text.index("store recovered")]
        assert during.count("\n") <= 3, during  # quiet while it lasts, whatever the number of attempts
        recovered = [line for line in text.splitlines() if "store recovered" in line][0]
        assert "stalled" in recovered and " s " in recovered, recovered

        report = central.events_of("store.stalled")[0]["data"]
        assert report["cause"] == "database is locked" and report["failed_writes"] >= 2, report
        assert report["duration_s"] >= HOLD_AFTER_STALL_S and report["start"] < report["end"], report
        readings = len(central.events_of("meter.reading"))
        central.wait_for(lambda: len(central.events_of("meter.reading")) > readings, timeout=30,
                         what="meters read and sent again")
        assert gateway.alive()
        assert len(central.events_of("store.stalled")) == 1
    finally:
        gateway.stop()
        central.close()
    assert central.invalid == [], central.invalid
