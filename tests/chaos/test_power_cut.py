"""Power cuts: the gateway's state directory and config file on LazyFS, the power cut N times under load.

Everything lives below a LazyFS mount (tests/helpers/lazyfs.py): the store (WAL), the card-hash
key and the other secrets, the config file. Each round `lobby gateway --simulate` runs with the
kiosk's side (`tests/helpers/kiosk_child.py`, its own process) committing lobby actions, meter
readings, button presses and guard taps flowing; every fourth round central pushes a
`config.update` just before the cut. The power cut: both processes SIGKILLed at once and the file
system cut (everything not fsynced is gone), then mounted again. After every cut:

* the store opens and PRAGMA integrity_check is ok;
* nothing central received is lost: the seq counter is not behind the newest seq central got, and
  no seq central got is reused for another event (central de-duplicates by seq and id);
* every lobby action the kiosk was told was saved is in the store;
* the config file is the old or the new version, the new one if central was told "ok";
* the card-hash key and the patrol secret are the ones in use before the cut.

At the end every seq reaches central (no gap).
"""

from __future__ import annotations

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
from tests.helpers.central import TimedCentral, now_ts
from tests.helpers.gateway_rig import GUARD_CARD, ROOT, GatewayProcess, gateway_config
from tests.helpers.lazyfs import LazyFS, unavailable
from tests.helpers.lobby_load import GuardTapper, PanelPresser, lobby_ids_in_store, seed_directory

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(unavailable() is not None, reason=f"LazyFS cannot run: {unavailable()}")]

CUTS = 20


def _durable_write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _secret_files(state: Path) -> dict[str, bytes]:
    from lobby import cardhash
    from lobby.patrol import schedule

    names = (cardhash.KEY_FILE, schedule.SECRET_FILE)
    return {name: (state / name).read_bytes() for name in names if (state / name).exists()}


def _kill(proc: subprocess.Popen[bytes] | None) -> bytes:
    if proc is None:
        return b""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    return out


def _acknowledged(stdout: bytes) -> list[tuple[str, str]]:
    acked = []
    for line in stdout.split(b"\n"):
        try:
            kind, ident = json.loads(line)
        except ValueError:
            continue  # a line cut by the kill was never shown to anyone
        acked.append((kind, ident))
    return acked


def test_power_cut_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    rng = random.Random(20261206)
    broker = Broker(tmp_path / "broker").start()
    fs = LazyFS(tmp_path / "backing", tmp_path / "mnt").mount()
    mnt = tmp_path / "mnt"
    state = mnt / "state"
    state.mkdir()
    (tmp_path / "sim").mkdir()
    (state / "sim").symlink_to(tmp_path / "sim")  # the simulators' sockets and ptys stay off the FUSE mount
    config = mnt / "lobby.toml"
    _durable_write(config, gateway_config(state, broker.port, interval_s=1))
    cfg = load_config(config)
    db = state / cfg.store.path
    with Store(db) as store:
        seed_directory(store)
    central = TimedCentral(broker.port, cfg.base_topic, client_id="central-power-cut")
    presser = PanelPresser(tmp_path / "sim" / "gpio.sock", ["btn-toilet", "face-happy"], period_s=0.05)
    tapper = GuardTapper(tmp_path / "sim" / "nfc-gw.sock", GUARD_CARD, period_s=0.3, hold_s=0.25)
    log_path = tmp_path / "gateway.log"
    acked: list[tuple[str, str]] = []
    figures = {"cuts": 0, "config_sent": 0, "config_ok": 0, "config_new_after_cut": 0, "config_old_after_cut": 0}
    gateway: GatewayProcess | None = None
    kiosk: subprocess.Popen[bytes] | None = None
    try:
        presser.start()
        tapper.start()
        for round_ in range(CUTS):
            gateway = GatewayProcess(config, log_path).start()
            kiosk = subprocess.Popen([sys.executable, "-m", "tests.helpers.kiosk_child", str(config),
                                      str(round_ + 1), str(139_0000_0000 + round_ * 100_000)],
                                     cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            old_version = load_config(config).version
            cmd_id = None
            if round_ % 4 == 3:
                if not central.wait_for_safe(lambda: central.online_since(gateway.started_at) is not None, 30):
                    pytest.fail(f"round {round_}: the gateway did not come online")
                text = config.read_text().replace(f"version = {old_version}", f"version = {old_version + 1}", 1)
                cmd_id = f"cfg-{round_}"
                central.client.publish(f"{cfg.base_topic}/cmd/config.update", json.dumps(
                    {"id": cmd_id, "ts": now_ts(), "data": {"version": old_version + 1, "toml": text}}).encode(), qos=1)
                figures["config_sent"] += 1
                time.sleep(rng.uniform(0.0, 0.3))
            else:
                time.sleep(rng.uniform(0.3, 3.0))
            secrets_before = _secret_files(state)
            # the power goes: every process and every byte not synced
            os.kill(gateway.pid, signal.SIGKILL)
            acked += _acknowledged(_kill(kiosk))
            kiosk = None
            gateway.kill()
            gateway = None
            fs.cut()
            figures["cuts"] += 1
            time.sleep(0.3)  # what the broker had is delivered
            with central.lock:
                received = {(e["seq"], e["id"]) for e in central.events}
                newest = central.tracker.max_seq
            acked_ok = False
            while not central.results.empty():
                _name, body = central.results.get_nowait()
                acked_ok = acked_ok or (body.get("id") == cmd_id and body.get("ok"))
            fs.mount()  # the power is back

            version = load_config(config).version  # raises if torn
            assert version in (old_version, old_version + 1), f"round {round_}: config version {version}"
            if cmd_id is not None:
                figures["config_ok"] += bool(acked_ok)
                assert version == old_version + 1 or not acked_ok, f"round {round_}: central got ok, old config"
                figures["config_new_after_cut" if version == old_version + 1 else "config_old_after_cut"] += 1
            after = _secret_files(state)
            for name, value in secrets_before.items():
                assert after.get(name) == value, f"round {round_}: {name} changed or vanished in the cut"
            with Store(db) as store:
                assert store.integrity_check() == "ok", f"round {round_}"
                last = outbox.last_seq(store.connection())
                rows = {r["seq"]: r["id"] for r in store.query("SELECT seq, id FROM outbox")}
                present = lobby_ids_in_store(store)
            assert last >= newest, f"round {round_}: seq counter {last} is behind what central got ({newest})"
            reused = [(s, i) for s, i in received if s in rows and rows[s] != i]
            assert not reused, f"round {round_}: seqs central got now carry other events: {reused[:5]}"
            missing = [a for a in acked if a[1] not in present[a[0]]]
            assert not missing, f"round {round_}: acknowledged actions lost in the cut: {missing[:5]}"

        presser.stop()
        tapper.stop()
        with Store(db) as store:
            last = outbox.last_seq(store.connection())
        gateway = GatewayProcess(config, log_path).start()
        central.wait_seqs(last, timeout=120)
        assert gateway.stop() == 0
        gateway = None
        with central.lock:
            by_seq: dict[int, set[str]] = {}
            for e in central.events:
                by_seq.setdefault(e["seq"], set()).add(e["id"])
        two_ids = {s: ids for s, ids in by_seq.items() if len(ids) > 1}
        assert not two_ids, f"seqs delivered for two different events: {list(two_ids.items())[:5]}"
        missing = central.tracker.missing(last)
        figures.update({"events": last, "delivered_unique": central.tracker.unique, "lost": len(missing),
                        "duplicates": central.tracker.duplicates, "lobby_actions_acknowledged": len(acked),
                        "fs": fs.totals})
        report("power_cut", figures)
        assert missing == [], missing[:20]
        assert acked, "the kiosk got nothing acknowledged"
    finally:
        _kill(kiosk)
        if gateway is not None:
            gateway.kill()
        for producer in (presser, tapper):
            if producer.is_alive():
                producer.stop()
        central.close()
        broker.stop()
        fs.unmount()
