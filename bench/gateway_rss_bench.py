"""The gateway's memory: RSS after each import step, idle, and polling 100 meters.

    .venv/bin/python bench/gateway_rss_bench.py [--settle 15] [--poll 300] [--after-command 60] [--soak 60] [--plain]

Three measurements, one run:

1. Import steps. A fresh child process imports the gateway's start-up modules
   one at a time, in the order `lobby gateway` imports them, and reads VmRSS from
   /proc/self/status after each; the first row is the bare interpreter (the
   baseline: `python -c pass` with the same venv and site-packages). Each row
   also says which third-party packages that step pulled in.
2. A real `lobby gateway --simulate` process on a configuration with no meters
   (buttons, a checkpoint reader, patrol), idle after it connected to a mosquitto
   over TLS, as shipped (`[mqtt.tls] enabled = true`; OpenSSL's context and the
   pages of libssl and libcrypto it touches count: about 1.2 MiB).
3. The same with 100 meters on ten simulated RS-485 lines (DL/T 645 and Modbus
   in turn, `tests/helpers/gateway_rig.many_meters`), each polled every 5 s; then
   central sends it one command (a `ping`) and the sampling goes on for a minute:
   what the first inbound command loads (the command lane's modules, the schema
   checker; not jsonschema, see mqtt_bridge/schemas/checker.py) stays. With `--soak`
   it goes on polling for that many minutes from its start, and the highest RSS of
   each ten minutes is printed: SQLite's page caches fill and the heaps settle over
   the first hour.

The gateway (and the import-step child) runs with the Python and C library settings of
systemd/lobby-gateway.service (PYTHONOPTIMIZE=2, modules compiled into a cache
directory, glibc's per-thread cache off; read from the unit), after one unmeasured start
that fills that cache, as a Pi's gateway runs after its first start. `--plain` runs them
without (plain `python`;
where no .pyc files were written, every module is compiled at import, which leaves its
garbage in the RSS).

Only the gateway process itself is measured: the simulated meter lines and PN532
readers run in child processes (drivers/meters/sim/launch.py,
drivers/nfc/sim/launch.py) that a real installation does not have; their RSS is
printed separately. The mock GPIO panel runs inside the gateway (a Pi drives its
pins through lgpio instead). The gateway validates its configuration in a short-lived
child and holds it as plain records (lobby/config/readonly.py): the import steps
below follow that order. The machine is shared and noisy; RSS is not timing, but
compare it with the bare interpreter of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.site_config import site_toml  # noqa: E402
from tests.helpers.broker import Broker, TlsFiles  # noqa: E402
from tests.helpers.pki import CertificateAuthority  # noqa: E402
from tests.helpers.gateway_rig import many_meters, shipped_python_env  # noqa: E402

# The modules `lobby gateway` imports, in the order it imports them ("module:function" is a call).
STEPS = [
    "lobby.cli",                 # the `lobby` entry point and argument parser
    "lobby.cli.gateway_cmd",     # the subcommand
    "lobby.deferred_imports:defer_unused_by_services",  # urllib.request, asyncio, package inits: only if used
    "mqtt_bridge.modelkit:select_read_only",  # settings validated by a child: no pydantic here
    "lobby.config.model",        # the configuration classes, as plain records
    "mqtt_bridge.store",         # the store (sqlite3)
    "mqtt_bridge.publisher",     # the bridge publisher (paho-mqtt)
    "lobby.runtime",             # the bridge runtime: alerts, command intake, publisher
    "lobby.gateway.assemble",    # the gateway's components
    "lobby.meters",              # the meter service (built when meters are configured)
    "drivers.meters.modbus_rtu", # Modbus RTU (imported when a Modbus meter is configured)
    "mqtt_bridge.schemas",       # JSON Schema validation (imported at the first inbound command)
]

CHILD = r"""
import importlib, json, sys
def rss():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
rows = [["(bare interpreter)", rss(), []]]
std = set(sys.stdlib_module_names)
top = lambda: {m.split('.')[0] for m in sys.modules if m.split('.')[0].lstrip('_') not in std and m.split('.')[0] not in std}
for name in json.loads(sys.argv[1]):
    before = top()
    module, _, call = name.partition(':')
    imported = importlib.import_module(module)
    if call:
        getattr(imported, call)()
    rows.append([name, rss(), sorted(top() - before - {'lobby', 'mqtt_bridge', 'drivers', 'kiosk'})])
print(json.dumps(rows))
"""

DEVICES = """
[kiosk]
staff_cards = ["5A3B9C01"]
[gpio]
pin_factory = "mock"
buzzer_pin = 12
[[buttons]]
id = "btn-toilet"
pin = 17
place = "Lobby"
meaning = "Call staff"
ticket_kind = "enquiry"
category = "other"
led_pin = 27
[[readers]]
id = "nfc-gw"
kind = "libnfc"
connstring = "pn532_uart:/dev/unused"
host = "gateway"
checkpoint = "cp-a"
[patrol]
checkpoints = [ { id = "cp-a", name = "A", place = "A", reader = "nfc-gw" },
                { id = "cp-b", name = "B", place = "B", tag_uid = "04A1B2C3D4E501" } ]
guards = [ { id = "g-1", name = "G", card_uid = "7E11AA01" } ]
routes = [ { id = "r", name = "R", checkpoints = ["cp-a", "cp-b"] } ]
"""


def status_kb(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:", "RssFile:")):
            key, value = line.split(":", 1)
            out[key] = int(value.split()[0])
    return out


def children(pid: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return found


def import_steps(python_env: dict[str, str]) -> list[tuple[str, int, list[str]]]:
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(STEPS)], cwd=ROOT, check=True,
                         capture_output=True, text=True, env={**os.environ, **python_env}).stdout
    return [tuple(row) for row in json.loads(out.strip().splitlines()[-1])]


def sample_rss(pid: int, seconds: float) -> int:
    """The highest VmRSS (KiB) over `seconds`, one sample a second."""
    rss: list[int] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rss.append(status_kb(pid)["VmRSS"])
        time.sleep(1.0)
    return max(rss)


def send_ping(port: int, ca_file: Path, config: Path) -> None:
    """Central's `ping`, over TLS: what the gateway's first inbound command loads stays loaded."""
    from lobby.config import load_config
    from tests.helpers.central import Central

    central = Central(port, load_config(config).base_topic, tls={"ca_certs": str(ca_file)})
    try:
        result = central.command("ping", {})
        if result.get("ok") is not True:
            raise SystemExit(f"the gateway refused ping: {result}")
    finally:
        central.close()


def soak(pid: int, started: float, minutes: float, every_min: float = 10.0) -> list[tuple[float, float]]:
    """(minute, highest VmRSS MiB in the `every_min` minutes up to it) until `minutes` after `started`."""
    out: list[tuple[float, float]] = []
    mark = every_min
    highest = 0
    while time.monotonic() - started < minutes * 60:
        highest = max(highest, status_kb(pid)["VmRSS"])
        if time.monotonic() - started >= mark * 60:
            out.append((mark, highest / 1024))
            mark += every_min
            highest = 0
        time.sleep(5.0)
    if highest:  # the last, possibly shorter, window
        out.append((minutes, highest / 1024))
    return out


def run_gateway(work: Path, port: int, ca_file: Path, extra: str, settle_s: float,
                samples_s: float, python_env: dict[str, str], after_command_s: float = 0.0,
                soak_min: float = 0.0) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    config = work / "lobby.toml"
    tls = f'[mqtt.tls]\nenabled = true\nca_file = "{ca_file}"'  # as shipped: TLS to the broker
    config.write_text(site_toml(work / "state", port, extra=extra, mqtt_extra=tls))
    env = {**os.environ, "LOBBY_CLOCK_SYNCED": "1", **python_env}
    proc = subprocess.Popen([sys.executable, "-m", "lobby.cli", "--log-level", "WARNING", "gateway",
                             "--config", str(config), "--simulate"], cwd=ROOT, env=env)
    started = time.monotonic()
    try:
        time.sleep(settle_s)
        if proc.poll() is not None:
            raise SystemExit(f"the gateway stopped (exit {proc.returncode})")
        rss_kb = sample_rss(proc.pid, samples_s)
        after_command_kb = 0
        if after_command_s:
            send_ping(port, ca_file, config)
            after_command_kb = sample_rss(proc.pid, after_command_s)
        soaked = soak(proc.pid, started, soak_min) if soak_min else []
        last = status_kb(proc.pid)
        sims = sum(status_kb(c).get("VmRSS", 0) for c in children(proc.pid))
        events = 0
        for db in (work / "state").glob("*.db"):
            import sqlite3
            with sqlite3.connect(db) as conn:
                events = max(events, conn.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0])
        return {"rss_mb": rss_kb / 1024, "after_command_mb": after_command_kb / 1024, "last_mb": last["VmRSS"] / 1024, "hwm_mb": last["VmHWM"] / 1024,
                "anon_mb": last.get("RssAnon", 0) / 1024, "sims_mb": sims / 1024, "events": events, "soak": soaked}
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settle", type=float, default=15.0, help="seconds after start before sampling")
    parser.add_argument("--poll", type=float, default=300.0,
                        help="seconds of sampling, one sample a second (RSS still creeps up for minutes)")
    parser.add_argument("--meters", type=int, default=100)
    parser.add_argument("--after-command", type=float, default=60.0,
                        help="seconds of sampling after central's first command (a ping; 0: not sent)")
    parser.add_argument("--soak", type=float, default=0.0,
                        help="then go on polling until this many minutes after the start, printing the highest "
                             "RSS of every ten minutes (SQLite's caches and the heap settle over the first hour)")
    parser.add_argument("--plain", action="store_true", help="without the unit's settings (-OO, cache, glibc tunables)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ca = CertificateAuthority.create(work / "pki", "Company CA")
        cert, key = ca.issue(work / "pki", "broker", server=True)
        broker = Broker(work / "broker", tls=TlsFiles(ca.cert_path, cert, key)).start()
        python_env = {} if args.plain else shipped_python_env(work / "cache")
        meter_devices = DEVICES + many_meters(args.meters, 10, interval_s=5)
        try:
            if python_env:  # the first start compiles into the cache; a Pi's gateway starts once
                run_gateway(work / "warm-up", broker.port, ca.cert_path, meter_devices, 8, 1, python_env,
                            after_command_s=1)  # a command too: the command lane's modules are compiled then
            steps = import_steps(python_env)
            idle = run_gateway(work / "idle", broker.port, ca.cert_path, DEVICES, args.settle, args.poll, python_env)
            meters = run_gateway(work / "meters", broker.port, ca.cert_path, meter_devices, args.settle, args.poll,
                                 python_env, after_command_s=args.after_command, soak_min=args.soak)
        finally:
            broker.stop()

    base = steps[0][1]
    print("gateway start-up, RSS after each import step (a fresh child process, the same Python settings):")
    print(f"{'step':30} {'RSS MiB':>8} {'+MiB':>6} {'x bare':>7}  third-party packages pulled in")
    prev = base
    for name, kb, pulled in steps:
        print(f"{name:30} {kb / 1024:8.1f} {(kb - prev) / 1024:6.1f} {kb / base:7.2f}  {', '.join(pulled)}")
        prev = kb
    print()
    settings = " ".join(f"{k}={v}" for k, v in python_env.items() if v and k != "PYTHONPYCACHEPREFIX") or "plain python"
    print(f"the running gateway process ({settings}; simulators excluded: they are its child processes here):")
    print(f"{'case':34} {'max RSS':>8} {'peak':>7} {'anon':>6} {'x bare':>7} {'sims':>7}")
    for label, r in (("idle (buttons, reader, patrol)", idle), (f"polling {args.meters} meters every 5 s", meters)):
        print(f"{label:34} {r['rss_mb']:7.1f}M {r['hwm_mb']:6.1f}M {r['anon_mb']:5.1f}M "
              f"{r['rss_mb'] * 1024 / base:7.2f} {r['sims_mb']:6.1f}M")
    if meters["after_command_mb"]:
        r, label = meters["after_command_mb"], "then central's first command"
        print(f"{label:34} {r:7.1f}M {'':>7} {'':>6} {r * 1024 / base:7.2f}"
              f"  (a ping: what the command lane needs is loaded)")
    for minute, rss_mb in meters["soak"]:
        print(f"{'polling on, up to minute ' + format(minute, 'g'):34} {rss_mb:7.1f}M {'':>7} {'':>6} {rss_mb * 1024 / base:7.2f}")
    print(f"events recorded: idle {idle['events']}, polling {meters['events']} (the meters were read)")
    os._exit(0)


if __name__ == "__main__":
    main()
