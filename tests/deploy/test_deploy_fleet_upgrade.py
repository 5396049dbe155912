"""A fleet upgrade in waves: three Pis on loopback, a bad release stopped by the health gate, a good one rolled out.

Three throwaway roots are three Pis (gw-a, gw-b, gw-c), each installed with release N (1.0.0) by
install.sh --release and each running its own root's `opt/lobby/bin/lobby gateway --simulate`
against one real mosquitto; central watches each gateway's `gateway.started`. lobby-release
restarts a root's gateway through its --root test hook (LOBBY_RELEASE_RESTART_CMD runs
pi_gateway.py restart ROOT, which stands in for systemctl), so the health gate
(`lobby doctor --only store,config,started`) passes only once the gateway process running the
switched release has published its gateway.started with that release's version and the broker
acknowledged it.

Wave 1: gw-a gets the broken release (its doctor always fails): the gate fails, gw-a switches
back to N by itself and central hears gw-a start again on 1.0.0; the roll-out stops there (gw-b
and gw-c untouched). Then N+1 (1.1.0, one more additive migration) in waves: gw-a, then gw-b
and gw-c side by side; each gate passes only after central received that Pi's gateway.started
on 1.1.0, and the feedback written by N before the upgrade is all still in each store.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from deploy_helpers import INSTALL

from tests.helpers.broker import Broker
from tests.helpers.central import Central
from tests.helpers.site_config import site_toml

pytestmark = [pytest.mark.xdist_group("release"), pytest.mark.timeout(900)]

PIS = ("gw-a", "gw-b", "gw-c")
PI_GATEWAY = Path(__file__).with_name("pi_gateway.py")

# Feedback presses made by the release's own code (its venv's python) through the feedback service.
PRESS = """
import json, sys
from lobby.config import load_config, state_path
from lobby.services.context import ServiceContext
from lobby.services.feedback import FeedbackService
from mqtt_bridge.store import Store
cfg = load_config(sys.argv[1])
with Store(state_path(cfg, cfg.store.path)) as store:
    service = FeedbackService(ServiceContext(store, cfg, b"k" * 32))
    ids = [service.press(face, source="kiosk").value.press_id for face in ("happy", "very_happy", "unhappy")]
print(json.dumps(ids))
"""


def _install_pi(base: Path, name: str, tarball: Path, port: int) -> Path:
    root = base / name
    (root / "boot/firmware").mkdir(parents=True)
    (root / "boot/firmware/cmdline.txt").write_text("console=tty1 rootwait\n")
    done = subprocess.run(["bash", str(INSTALL), "--root", str(root), "--release", str(tarball), "--role", "gateway"],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "LC_ALL": "C"})
    assert done.returncode == 0, done.stdout + done.stderr
    (root / "etc/lobby/lobby.toml").write_text(site_toml(root / "var/lib/lobby", port, gateway_id=name,
                                                         reconnect_max_s=1))
    return root


def _pi(root: Path, action: str, *extra: str) -> None:
    subprocess.run([sys.executable, str(PI_GATEWAY), action, str(root), *extra], check=True, timeout=60)


def _release_tool(root: Path, *args: str, delay: float = 0.0) -> subprocess.CompletedProcess[str]:
    hook = f"{sys.executable} {PI_GATEWAY} restart {root}" + (f" --delay {delay}" if delay else "")
    return subprocess.run([str(root / "usr/local/sbin/lobby-release"), *args, "--root", str(root)],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHON": sys.executable, "LC_ALL": "C",
                               "LOBBY_RELEASE_RESTART_CMD": hook})


def _current(root: Path) -> str:
    return os.readlink(root / "opt/lobby/current").rsplit("/", 1)[-1]


def _store(root: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{root / 'var/lib/lobby/lobby.db'}?mode=ro", uri=True, timeout=5)


def _started_meta(root: Path) -> dict:
    with _store(root) as conn:
        return json.loads(conn.execute("SELECT value FROM meta WHERE key = 'gateway.started'").fetchone()[0])


def _log(root: Path) -> str:
    path = root / "var/log/lobby-gateway.log"
    return path.read_text(errors="replace")[-3000:] if path.exists() else "(no gateway log)"


class Fleet:
    def __init__(self, base: Path, broker: Broker, roots: dict[str, Path]) -> None:
        self.base = base
        self.roots = roots
        self.central = {name: Central(broker.port, f"lobby/tower-a/{name}") for name in PIS}

    def started(self, name: str) -> list[tuple[str, int, float]]:
        """(version, seq, arrival) of each gateway.started central received from this Pi, in order."""
        central = self.central[name]
        with central.lock:
            return [(e["data"]["version"], e["seq"], central.arrival.get(e["seq"], 0.0))
                    for e in central.events if e["type"] == "gateway.started"]

    def versions(self, name: str) -> list[str]:
        return [v for v, _, _ in self.started(name)]

    def wait_started(self, name: str, version: str, count: int = 1, timeout: float = 60) -> None:
        self.central[name].wait_for(lambda: self.versions(name).count(version) >= count, timeout,
                                    f"{name}: gateway.started on {version} x{count}\n{_log(self.roots[name])}")

    def close(self) -> None:
        for root in self.roots.values():
            _pi(root, "stop")
        for central in self.central.values():
            central.close()


def _upgrade(fleet: Fleet, name: str, tarball: Path, delay: float = 0.0) -> None:
    """One Pi's `lobby-release install` of N+1: its gate passes only after central has its gateway.started."""
    root = fleet.roots[name]
    done = _release_tool(root, "install", str(tarball), delay=delay)
    returned = time.monotonic()
    assert done.returncode == 0, done.stdout + done.stderr + _log(root)
    assert "healthy: 1.1.0" in done.stdout and "--only store,config,started" in done.stdout, done.stdout
    assert _current(root) == "1.1.0"
    meta = _started_meta(root)
    assert meta["version"] == "1.1.0"
    with _store(root) as conn:  # acknowledged: the outbox row of that gateway.started is gone
        assert conn.execute("SELECT 1 FROM outbox WHERE seq = ?", (meta["seq"],)).fetchone() is None
    on_new = [(seq, at) for version, seq, at in fleet.started(name) if version == "1.1.0"]
    assert [seq for seq, _ in on_new] == [meta["seq"]], (fleet.started(name), meta)
    assert on_new[0][1] <= returned  # central had it before the gate let the release stay


def test_a_fleet_upgrade_in_waves_stops_at_a_bad_release(tmp_path: Path, broker: Broker,
                                                         releases: dict[str, Path]) -> None:
    began = time.monotonic()
    with ThreadPoolExecutor(len(PIS)) as pool:  # three Pis installed with N side by side
        roots = dict(zip(PIS, pool.map(lambda n: _install_pi(tmp_path, n, releases["n"], broker.port), PIS)))
    installed = time.monotonic()
    fleet = Fleet(tmp_path, broker, roots)
    try:
        written: dict[str, list[str]] = {}
        for name, root in roots.items():  # records made by N's own code before any upgrade
            done = subprocess.run([str(root / "opt/lobby/current/bin/python"), "-c", PRESS,
                                   str(root / "etc/lobby/lobby.toml")],
                                  capture_output=True, text=True, timeout=120, cwd=root)
            assert done.returncode == 0, done.stderr
            written[name] = json.loads(done.stdout)
            assert len(written[name]) == 3
            _pi(root, "start")
        for name in PIS:
            fleet.wait_started(name, "1.0.0")
        assert "healthy: 1.0.0" in _release_tool(roots["gw-a"], "gate").stdout  # N's own start, acknowledged

        # Wave 1: the broken release on gw-a alone. Its gate fails; gw-a goes back to N by itself.
        bad = _release_tool(roots["gw-a"], "install", str(releases["broken"]), "--gate-timeout", "12")
        assert bad.returncode == 1, bad.stdout + bad.stderr
        assert "was not healthy and was rolled back to 1.0.0" in bad.stderr, bad.stderr
        assert "broken on purpose" in bad.stderr
        assert "healthy: 1.0.0" in bad.stdout  # the gate after the switch back: N started again, acknowledged
        assert _current(roots["gw-a"]) == "1.0.0"
        fleet.wait_started("gw-a", "1.0.0", count=2, timeout=5)
        assert fleet.versions("gw-a") == ["1.0.0", "1.2.0-broken", "1.0.0"], fleet.started("gw-a")
        # ... and the roll-out stops: the other Pis were not touched.
        for name in ("gw-b", "gw-c"):
            assert _current(roots[name]) == "1.0.0" and fleet.versions(name) == ["1.0.0"]
            assert not (roots[name] / "opt/lobby/releases/1.2.0-broken").exists()

        # The good release N+1 in waves: gw-a (its gateway slow to start: the gate must wait) ...
        _upgrade(fleet, "gw-a", releases["n1"], delay=2.0)
        # ... then gw-b and gw-c side by side.
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda n: _upgrade(fleet, n, releases["n1"]), ("gw-b", "gw-c")))

        for name, root in roots.items():
            assert fleet.versions(name)[-1] == "1.1.0"
            with _store(root) as conn:
                kept = {row[0] for row in conn.execute("SELECT id FROM feedback")}
                assert set(written[name]) <= kept, (name, written[name], kept)  # nothing written by N was lost
                assert conn.execute("SELECT count(*) FROM release_notes").fetchone()[0] == 0  # N+1's migration ran
        for name in PIS:
            assert fleet.central[name].invalid == [], fleet.central[name].invalid
            feedback = [e for e in fleet.central[name].events if e["type"].startswith("feedback")]
            assert len(feedback) >= 3  # and central had N's records too
    finally:
        fleet.close()
    print(f"\nfleet upgrade: three Pis installed in {installed - began:.1f} s, "
          f"the whole roll-out in {time.monotonic() - began:.1f} s")
