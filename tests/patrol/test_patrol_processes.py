"""The kiosk process and the gateway process scan into one store file at the same time: rounds stay consistent."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path

from mqtt_bridge.alerts import AlertEngine
from lobby.config import load_config, state_path
from lobby.patrol import ManualClock, PatrolEngine
from mqtt_bridge.store import Store
from tests.patrol.patrol_helpers import CARD_KEY, PATROL, SECRET, SHANGHAI, config_text, data_of, invalid_events

ROOT = Path(__file__).resolve().parents[2]
CARDS = [f"7E11AB{n:02d}" for n in range(1, 9)]


def _patrol_with_guards() -> str:
    guards = ",\n  ".join(f'{{ id = "g-{n:02d}", name = "Guard {n}", card_uid = "{card}" }}'
                          for n, card in enumerate(CARDS, start=1))
    head, _, rest = PATROL.partition("guards = [")
    _, _, tail = rest.partition("]\n")
    return head + "guards = [\n  " + guards + "\n]\n" + tail.partition("schedules = [")[0] + "schedules = []\n"


def test_kiosk_and_gateway_processes_scan_concurrently(tmp_path: Path) -> None:
    config = tmp_path / "lobby.toml"
    config.write_text(config_text(tmp_path / "state", _patrol_with_guards()))
    cfg = load_config(config)
    db = state_path(cfg, cfg.store.path)
    PatrolEngine(cfg, Store(db)).store.close()  # schema, card key and random secret made once, up front

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    kiosk = subprocess.Popen([sys.executable, "-m", "tests.patrol.patrol_worker", str(config), "kiosk", *CARDS],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    gateway = subprocess.Popen([sys.executable, "-m", "tests.patrol.patrol_worker", str(config), "gateway",
                                *reversed(CARDS)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    out_k, err_k = kiosk.communicate(timeout=120)
    out_g, err_g = gateway.communicate(timeout=120)
    assert kiosk.returncode == 0, err_k
    assert gateway.returncode == 0, err_g
    assert out_k.strip() == f"done {2 * len(CARDS)}" and out_g.strip() == f"done {5 * len(CARDS)}"

    store = Store(db)
    try:
        assert invalid_events(store) == []
        rounds = store.query("SELECT id, guard_id, state, outcome FROM patrol_rounds ORDER BY guard_id")
        assert [(r["guard_id"], r["state"], r["outcome"]) for r in rounds] == [
            (f"g-{n:02d}", "closed", "completed") for n in range(1, 9)]
        points = store.query("SELECT round_id, count(*) AS n, sum(state = 'on_time') AS ok, sum(repeats) AS rep "
                             "FROM patrol_points GROUP BY round_id")
        assert all((p["n"], p["ok"], p["rep"]) == (4, 4, 1) for p in points) and len(points) == 8
        statuses = store.query("SELECT status, count(*) AS n FROM patrol_scans GROUP BY status ORDER BY status")
        assert {s["status"]: s["n"] for s in statuses} == {"guard": 16, "on_time": 32, "repeated": 8}
        # every scan has its event, seq has no gap, each round was reported once
        seqs = [r[0] for r in store.connection().execute("SELECT seq FROM outbox ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1))
        assert len(data_of(store, "patrol.scan")) == 56
        assert sorted(r["guard_id"] for r in data_of(store, "patrol.round")) == [f"g-{n:02d}" for n in range(1, 9)]
        assert store.scalar("SELECT count(*) FROM patrol_scans WHERE event_id IS NULL") == 0
        # the two processes really wrote in between each other
        last_kiosk = store.scalar("SELECT max(id) FROM patrol_scans WHERE source = 'kiosk'")
        assert store.scalar("SELECT min(id) FROM patrol_scans WHERE source = 'gateway'") < last_kiosk
    finally:
        store.close()


def test_two_store_handles_racing_on_the_same_first_tap(tmp_path: Path) -> None:
    """Two processes' worth of handles (kiosk and gateway) on one file, threads released together."""
    cfg_text = config_text(tmp_path / "state", _patrol_with_guards())
    from lobby.config import parse_config

    cfg = parse_config(cfg_text, "test.toml")
    clock = ManualClock(dt.datetime(2026, 11, 25, 21, 0, tzinfo=SHANGHAI))
    stores = [Store(tmp_path / "lobby.db", busy_timeout_ms=30_000) for _ in range(2)]
    engines = [PatrolEngine(cfg, s, AlertEngine(s), clock, card_key=CARD_KEY, secret=SECRET) for s in stores]
    try:
        for card in CARDS:
            barrier = threading.Barrier(3)
            results: list[str] = []

            def tap(engine: PatrolEngine) -> None:
                barrier.wait()
                results.append(engine.scan(card, "nfc-lobby").status)

            def tick(engine: PatrolEngine) -> None:
                barrier.wait()
                engine.tick()

            threads = [threading.Thread(target=tap, args=(engines[0],)), threading.Thread(target=tap, args=(engines[1],)),
                       threading.Thread(target=tick, args=(engines[1],))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert sorted(results) == ["on_time", "repeated"], card
            clock.advance(10)
        assert stores[0].scalar("SELECT count(*) FROM patrol_rounds") == len(CARDS)
        assert stores[0].scalar("SELECT count(DISTINCT guard_id) FROM patrol_rounds") == len(CARDS)
        assert invalid_events(stores[0]) == []
    finally:
        for s in stores:
            s.close()
