"""End-to-end durable throughput of the bridge, as a ratio to raw paho-mqtt, in one run.

    .venv/bin/python bench/bridge_bench.py [--events 30000] [--drain 1000000]

1. Baseline: a bare paho-mqtt 2.x client publishing N messages of the same size at
   QoS 1 with 20 messages in flight, timed until the last PUBACK.
2. The product: a producer commits N events to the outbox (durable, in batches of
   50 per transaction as a meter poll cycle does) while the bridge publishes them,
   in one process; timed from the first commit until the last row is deleted
   after its PUBACK.
3. Backlog drain: D bulk rows queued while offline, then a `lobby bridge` process
   connects; rows/s, and the latency of critical events injected during the drain
   by another process (commit -> received by a subscriber), p50/p99.
4. The `lobby bridge` process's RSS during the drain and idle after it.

This machine is shared and noisy: only the ratios measured in the same run mean
anything; absolute figures are printed for context.
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
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lobby.config import parse_config  # noqa: E402
from lobby.runtime import Runtime  # noqa: E402
from mqtt_bridge.store import Lane, outbox  # noqa: E402
from tests.helpers.site_config import site_toml  # noqa: E402
from tests.helpers.broker import Broker  # noqa: E402

READING = {"meter_id": "elec-plant", "kind": "electricity", "place": "B1",
           "values": {"energy_total": {"value": 123456.78, "unit": "kWh", "quality": "good"},
                      "power_total": {"value": 12.345, "unit": "kW", "quality": "good"}}}


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def raw_paho(port: int, count: int, size: int) -> float:
    done = threading.Event()
    acked = 0
    lock = threading.Lock()

    def on_publish(client, userdata, mid, rc, props):  # noqa: ANN001
        nonlocal acked
        with lock:
            acked += 1
            if acked == count:
                done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw")
    client.on_publish = on_publish
    client.max_inflight_messages_set(20)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    payload = b"x" * size
    start = time.perf_counter()
    for _ in range(count):
        client.publish("bench/raw", payload, qos=1)
    done.wait(600)
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return elapsed


def make_runtime(workdir: Path, port: int) -> Runtime:
    text = site_toml(state_dir=workdir / "state", port=port, extra="", mqtt_extra="inflight = 20",
                              discovery="false")
    return Runtime(parse_config(text), None)


def wait_empty(rt: Runtime, timeout: float = 3600) -> None:
    deadline = time.monotonic() + timeout
    while rt.store.scalar("SELECT 1 FROM outbox LIMIT 1") and time.monotonic() < deadline:
        time.sleep(0.05)


def product_e2e(workdir: Path, port: int, count: int, batch: int = 50) -> tuple[float, int]:
    rt = make_runtime(workdir, port)
    rt.start()
    while not rt.bridge.link_up:
        time.sleep(0.01)
    wait_empty(rt)
    start = time.perf_counter()
    for first in range(0, count, batch):
        with rt.store.transaction() as tx:
            outbox.append_events(tx.conn, [("meter", "meter.reading", READING)] * min(batch, count - first))
        rt.bridge.wake()
    wait_empty(rt)
    elapsed = time.perf_counter() - start
    size = len(outbox.EventRecord(1, "0" * 36, "meter", "meter.reading", Lane.BULK, "2026-01-01T00:00:00.000Z",
                                  "b", 0, True, outbox.encode_data(READING)).payload(False))
    rt.stop()
    return elapsed, size


def process_rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def drain(workdir: Path, broker: Broker, rows: int) -> dict[str, float]:
    """The bridge runs as its own `lobby bridge` process, as on the Pi; this process
    plays the kiosk (injecting critical events) and central (receiving them)."""
    broker.stop()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "lobby.toml"
    config.write_text(site_toml(state_dir=workdir / "state", port=broker.port, extra="",
                                         mqtt_extra="inflight = 20", discovery="false"))
    rt = make_runtime(workdir, broker.port)  # only its store is used here
    chunk = 5000
    for first in range(0, rows, chunk):
        with rt.store.transaction() as tx:
            outbox.append_events(tx.conn, [("meter", "meter.reading", READING)] * min(chunk, rows - first))
    broker.start()
    committed: dict[int, float] = {}
    arrived: dict[int, float] = {}
    subscriber = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-central")

    def on_message(client, userdata, msg):  # noqa: ANN001
        arrived[json.loads(msg.payload)["seq"]] = time.perf_counter()

    subscriber.on_message = on_message
    subscriber.connect("127.0.0.1", broker.port)
    subscriber.subscribe(f"{rt.cfg.base_topic}/events/health", qos=1)
    subscriber.loop_start()
    bridge = subprocess.Popen([sys.executable, "-m", "lobby.cli", "--log-level", "WARNING", "bridge",
                               "--config", str(config)], cwd=Path(__file__).resolve().parents[1])
    stop = threading.Event()
    rss = {"idle": 0.0, "peak": 0.0}

    def sample() -> None:
        while not stop.is_set():
            rss["peak"] = max(rss["peak"], process_rss_mb(bridge.pid))
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    while rt.store.scalar("SELECT value FROM counters WHERE name='bulk_rows'") == rows:
        time.sleep(0.01)  # the process is starting and connecting: the drain has not begun
    while rt.store.scalar("SELECT value FROM counters WHERE name='bulk_rows'") > 0:
        record = rt.store.emit("health", "gateway.started", {"version": "bench", "config_version": 1})
        committed[record.seq] = time.perf_counter()
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    time.sleep(2)
    stop.set()
    sampler.join()
    rss["idle"] = process_rss_mb(bridge.pid)
    bridge.terminate()
    bridge.wait(10)
    subscriber.disconnect()
    subscriber.loop_stop()
    latencies = sorted(arrived[s] - committed[s] for s in committed if s in arrived)
    rt.store.close()
    return {
        "rows": rows, "seconds": elapsed, "rows_per_s": rows / elapsed,
        "critical_injected": len(committed), "critical_delivered": len(latencies),
        "critical_p50_ms": 1000 * statistics.median(latencies),
        "critical_p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "rss_idle_mb": rss["idle"], "rss_peak_mb": rss["peak"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=30000)
    parser.add_argument("--drain", type=int, default=1_000_000)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker = Broker(workdir / "broker").start()
        try:
            e2e_s, size = product_e2e(workdir / "e2e", broker.port, args.events)
            raw_s = raw_paho(broker.port, args.events, size)
            ratio = raw_s / e2e_s
            print(f"payload size {size} bytes, {args.events} events, broker on loopback, RSS at start {rss_mb():.0f} MB")
            print(f"raw paho QoS1 (in-flight 20)      {args.events / raw_s:9.0f} msg/s")
            print(f"bridge end-to-end durable         {args.events / e2e_s:9.0f} events/s "
                  f"(commit -> PUBACK -> row deleted)")
            print(f"ratio bridge / raw paho           {ratio:9.2f}   (target >= 0.5)")
            figures: dict[str, object] = {"events": args.events, "payload_bytes": size,
                                          "raw_msgs_per_s": args.events / raw_s,
                                          "bridge_events_per_s": args.events / e2e_s, "ratio": ratio}
            if args.drain:
                result = drain(workdir / "drain", broker, args.drain)
                print(f"backlog drain of {result['rows']} rows       {result['rows_per_s']:9.0f} rows/s "
                      f"({result['seconds']:.0f} s; {result['rows_per_s'] / (args.events / raw_s):.2f} x raw paho rate)")
                print(f"critical during drain (commit -> at subscriber) p50 {result['critical_p50_ms']:.1f} ms, "
                      f"p99 {result['critical_p99_ms']:.1f} ms over {result['critical_injected']} events (target p99 < 500 ms)")
                print(f"`lobby bridge` process RSS: during drain peak {result['rss_peak_mb']:.0f} MB, "
                      f"idle after {result['rss_idle_mb']:.0f} MB (target < 60 MB)")
                figures["drain"] = result
            if args.json:
                Path(args.json).write_text(json.dumps(figures, indent=2))
        finally:
            broker.stop()
    os._exit(0)


if __name__ == "__main__":
    main()
