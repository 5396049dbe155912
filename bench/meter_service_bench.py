"""The meter service with 100 simulated meters on four lines, measured in one run.

The simulators run in a child process (so the gateway's memory is its own); this
process is the gateway side: store, alert engine and MeterService, polling every
meter every 10 s over the real bus drivers.

Reported:
  * RSS of the gateway process: after imports and opening the store ("idle"), with
    the service built for 100 meters, and while polling (after the measured cycles);
    VmHWM is the peak.
  * per line, the poll cycle time against its theoretical wire time, computed from the
    very frames the cycle exchanged (the bus's transaction trace) with the driver's
    wire-time helper (SerialSettings.wire_time):

        sum over transactions of (request + reply bytes) x bits_per_char / baud
                                 + the silence required before the request
                                 + the simulator's reply delay

    "cycle" is the first request to the last reply of one round of the line's meters;
    "svc" is the service's own time for its last round, the store transaction that saves
    it (events, registers, alerts) included.

    python bench/meter_service_bench.py [--cycles 3] [--interval 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("LOBBY_CLOCK_SYNCED", "1")

LINES = [
    # (bus id, baud, parity, [(protocol, map or None, count, points or None)])
    ("modbus-1", 9600, "N", [("modbus", "eastron_sdm120", 30, None)]),
    ("modbus-2", 9600, "N", [("modbus", "eastron_sdm630", 15, None), ("modbus", "xy_md02", 10, None)]),
    ("dlt645-1", 9600, "E", [("dlt645", None, 25, ["energy_import", "power_total", "voltage_a"])]),
    ("cjt188-1", 2400, "E", [("cjt188", None, 20, None)]),
]


def config_text(state_dir: Path, interval: float) -> str:
    parts = [f"""
version = 1
state_dir = "{state_dir}"
[site]
site_id = "bench"
gateway_id = "gw-bench"
[mqtt]
host = "127.0.0.1"
"""]
    for bus_id, baud, parity, groups in LINES:
        timeout = 200 if bus_id.startswith("modbus") else 500
        parts.append(f'[[buses]]\nid = "{bus_id}"\nport = "/dev/{bus_id}"\nbaudrate = {baud}\nparity = "{parity}"\n'
                     f"timeout_ms = {timeout}\n")
        unit = 0
        for protocol, regmap, count, points in groups:
            for _ in range(count):
                unit += 1
                lines = [f'id = "{bus_id}-m{unit}"', f'bus = "{bus_id}"', f'protocol = "{protocol}"',
                         f'address = "{unit}"', f"interval_s = {interval}"]
                if regmap:
                    lines.append(f'map = "{regmap}"')
                if points:
                    lines.append("points = [" + ", ".join(f'"{p}"' for p in points) + "]")
                parts.append("[[meters]]\n" + "\n".join(lines) + "\n")
    return "\n".join(parts)


def rss_kb(pid: int | str = "self") -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


def run_simulator(config_path: str) -> int:
    """Child process: start the simulated lines, print their links, run until stdin closes."""
    from lobby.config import load_config
    from lobby.meters import start_simulation

    cfg = load_config(config_path)
    _, sim = start_simulation(cfg, seed=11, drift=True)
    print(json.dumps({bus: str(link) for bus, link in sim.links.items()}), flush=True)
    sys.stdin.read()
    sim.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--simulator", help=argparse.SUPPRESS)
    ns = parser.parse_args(argv)
    if ns.simulator:
        return run_simulator(ns.simulator)

    from drivers.meters.bus import TransactionTrace
    from mqtt_bridge.alerts import AlertEngine
    from lobby.config import load_config
    from lobby.meters import MeterService
    from drivers.meters.sim.simulation import REPLY_DELAY
    from lobby.meters.wiring import serial_settings
    from mqtt_bridge.store import Store

    with tempfile.TemporaryDirectory(prefix="meter-bench-") as tmp:
        state = Path(tmp) / "state"
        config_path = Path(tmp) / "bench.toml"
        config_path.write_text(config_text(state, ns.interval), encoding="utf-8")
        cfg = load_config(config_path)
        child = subprocess.Popen([sys.executable, __file__, "--simulator", str(config_path)], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            links = json.loads(child.stdout.readline())
            cfg = cfg.model_copy(update={"buses": [b.model_copy(update={"port": links[b.id]}) for b in cfg.buses]})
            store = Store(state / "lobby.db")
            alerts = AlertEngine(store)
            idle = rss_kb()

            traces: dict[str, list[TransactionTrace]] = defaultdict(list)
            lock = threading.Lock()

            def trace(bus_id: str, t: TransactionTrace) -> None:
                with lock:
                    traces[bus_id].append(t)

            service = MeterService(cfg, store, alerts, trace=trace, run_daily=False)
            built = rss_kb()
            protocol_of = {m.id: m.protocol for m in cfg.meters}
            started = time.monotonic()
            service.start()
            # warm-up round 0 (ports open), then rounds 1..cycles, each inside its own interval
            time.sleep(ns.interval * (ns.cycles + 1) - 0.5)
            polling = rss_kb()
            counters = service.bus_counters()
            assert service.stop(timeout=10)
            readings = store.scalar("SELECT count(*) FROM outbox WHERE type = 'meter.reading'")
            bad = store.scalar("SELECT count(*) FROM meter_latest WHERE ok = 0")
            sim_rss = rss_kb(child.pid)
        finally:
            if child.stdin:
                child.stdin.close()
            child.wait(timeout=10)
            store.close()

    print(f"meters: {len(cfg.meters)} on {len(cfg.buses)} lines, every {ns.interval:g} s; "
          f"{readings} readings saved, {bad} meters not fully good at the end")
    print(f"gateway RSS: idle (imports + store) {idle['VmRSS'] / 1024:.1f} MiB, service built "
          f"{built['VmRSS'] / 1024:.1f} MiB, polling {polling['VmRSS'] / 1024:.1f} MiB, "
          f"peak {polling['VmHWM'] / 1024:.1f} MiB  (simulators, other process: {sim_rss['VmRSS'] / 1024:.1f} MiB)")
    print()
    header = ("line", "serial", "meters", "frames", "wire+gaps ms", "cycle ms", "svc ms", "ratio")
    rows = [header]
    ratios = []
    for bus in cfg.buses:
        settings = serial_settings(bus)
        # every meter is due at started + k x interval: round k is the traces started in that slot
        by_slot: dict[int, list[TransactionTrace]] = defaultdict(list)
        for t in traces[bus.id]:
            by_slot[int((t.started - started) // ns.interval)].append(t)
        rounds = [sorted(by_slot[k], key=lambda t: t.started) for k in range(1, 1 + ns.cycles) if by_slot[k]]
        measured = [r[-1].finished - r[0].started for r in rounds]
        theoretical = [sum(settings.wire_time(t.tx_bytes + t.rx_bytes) + t.gap_s
                           + REPLY_DELAY[protocol_of[t.device_id]] for t in r) for r in rounds]
        ratio = statistics.mean(m / th for m, th in zip(measured, theoretical))
        ratios.append(ratio)
        meters = len([m for m in cfg.meters if m.bus == bus.id])
        rows.append((bus.id, str(settings), str(meters), str(2 * len(rounds[-1])),
                     f"{1000 * statistics.mean(theoretical):.0f}", f"{1000 * statistics.mean(measured):.0f}",
                     f"{1000 * counters[bus.id]['last_cycle_s']:.0f}", f"{ratio:.3f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for n, row in enumerate(rows):
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print(f"\nratio = measured cycle / theoretical wire time of the same frames (mean of {ns.cycles} rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
