"""The kiosk's process SIGKILLed 100 times mid-action, with purges killed beside it.

A visitor is told "done" only after the record and its event are committed. The
kiosk side runs as its own process (`tests/helpers/kiosk_child.py`: the lobby
services the touchscreen calls, check-ins, tickets and feedback as fast as they
go) and is killed at a random moment, 100 times, while `lobby gateway --simulate`
keeps publishing. Every fifth round `lobby purge` runs at the same time and is
SIGKILLed too, half-way through its transactions.

Afterwards: the store passes PRAGMA integrity_check, every action the kiosk
acknowledged is in the store and reached central, and seq has no gap.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lobby.config import load_config
from mqtt_bridge.store import Store, outbox
from tests.chaos.report import report
from tests.helpers.broker import Broker
from tests.helpers.central import Central
from tests.helpers.gateway_rig import ROOT, GatewayProcess, gateway_config
from tests.helpers.lobby_load import (LOBBY_EVENT_ID_KEY, delivered_lobby_ids, lobby_ids_in_store,
                                     seed_directory)

pytestmark = pytest.mark.slow

KILLS = 100


def _spawn(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def _acknowledged(stdout: bytes) -> list[tuple[str, str]]:
    """Complete lines only: a line cut by the kill was never shown to anyone."""
    acked = []
    for line in stdout.split(b"\n"):
        try:
            kind, ident = json.loads(line)
        except ValueError:
            continue
        acked.append((kind, ident))
    return acked


def _kill(proc: subprocess.Popen[bytes]) -> bytes:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    return out


def test_kiosk_killed_100_times_mid_action_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261126)
    broker = Broker(tmp_path / "broker").start()
    state = tmp_path / "state"
    config = tmp_path / "lobby.toml"
    config.write_text(gateway_config(state, broker.port, meters=False))
    cfg = load_config(config)
    db = state / cfg.store.path
    with Store(db) as store:
        seed_directory(store)
    central = Central(broker.port, cfg.base_topic, client_id="central-kiosk-kill")
    gateway = GatewayProcess(config, tmp_path / "gateway.log").start()
    acked: list[tuple[str, str]] = []
    purges = {"run": 0, "killed": 0, "finished": 0}
    lifetimes: list[float] = []
    try:
        for round_ in range(KILLS):
            kiosk = _spawn(["-m", "tests.helpers.kiosk_child", str(config), str(round_),
                            str(139_0000_0000 + round_ * 10_000)])
            purge = None
            if round_ % 5 == 4:
                purges["run"] += 1
                now = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=40)
                purge = _spawn(["-m", "lobby.cli", "--log-level", "WARNING", "purge",
                                "--config", str(config), "--now", now.isoformat(), "--json"])
            life = rng.uniform(0.3, 1.5)  # start-up is about 0.3 s: some kills land before the first action
            time.sleep(life)
            lifetimes.append(life)
            acked += _acknowledged(_kill(kiosk))
            if purge is not None:
                purges["killed" if purge.poll() is None else "finished"] += 1
                _kill(purge)
        with Store(db) as store:
            last = outbox.last_seq(store.connection())
        central.wait_seqs(last, timeout=120)
        assert gateway.stop() == 0

        with Store(db) as store:
            integrity = store.integrity_check()
            present = lobby_ids_in_store(store)
        delivered = delivered_lobby_ids(central)
        not_in_store = [a for a in acked if a[1] not in present[a[0]]]
        not_delivered = [a for a in acked if a not in delivered]
        missing = central.tracker.missing(last)
        figures = {
            "sigkills": KILLS, "actions_acknowledged": len(acked),
            "by_kind": {k: sum(1 for a in acked if a[0] == k) for k in LOBBY_EVENT_ID_KEY},
            "purges_run": purges["run"], "purges_killed_mid_run": purges["killed"],
            "events_produced": last, "delivered_unique": central.tracker.unique, "lost": len(missing),
            "acknowledged_not_in_store": len(not_in_store), "acknowledged_not_delivered": len(not_delivered),
            "duplicates": central.tracker.duplicates, "integrity": integrity,
        }
        report("kiosk_sigkill", figures)
        assert integrity == "ok"
        assert missing == [], missing[:20]
        assert not_in_store == [] and not_delivered == []
        assert len(acked) > KILLS, "the kiosk got too little done between kills to prove anything"
        assert central.invalid == [], central.invalid[:5]
    finally:
        gateway.kill()
        central.close()
        broker.stop()
