"""The bridge's throughput as ratios to two baselines measured in the same run.

    .venv/bin/python bench/bridge_bench.py [--events 30000] [--drain 1000000] [--flood 10000] [--baseline N]

Baselines (N messages of one event's size, QoS 1, 20 in flight, timed to the last PUBACK):
a. the C client: `mosquitto_pub -q 1 -l` reading one message per line from stdin,
   in runs of 50,000 lines (see `c_client`); once more with a counting mosquitto_sub
   that must receive every message;
b. a bare paho-mqtt 2.x client keeping at most 20 messages outstanding (back-pressure,
   so it works at any count: paho's message ids wrap at 65,535).

The product:
1. End to end: a producer commits N events to the outbox (durable, in batches of
   50 per transaction as a meter poll cycle does) while the bridge publishes them,
   in one process; timed from the first commit until the last row is deleted
   after its PUBACK.
2. Backlog drain: D bulk rows queued while offline, then a `lobby bridge` process
   connects; events/s, and the latency of critical events injected during the drain
   by another process (commit -> received by a subscriber), p50/p99.
3. The `lobby bridge` process's RSS during the drain and idle after it.
4. Command flood: the latency of critical events committed by another process (commit ->
   at central) from a `lobby bridge` process, with no commands and then while central
   sends F notice.show commands as fast as the broker takes them; every command must be
   answered (ok or rate_limited). 0 skips a part (--events, --drain, --flood).

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
from collections.abc import Callable
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


def _counter(port: int, topic: str, count: int) -> subprocess.Popen[bytes]:
    """A C subscriber (mosquitto_sub) that exits once `count` messages have arrived."""
    proc = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topic,
                             "-C", str(count), "-i", f"bench-count-{os.getpid()}-{time.monotonic_ns()}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)  # subscribed by then (a missed message would show as a timeout below)
    return proc


def _wait_counter(proc: subprocess.Popen[bytes], what: str) -> None:
    try:
        proc.wait(120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"{what}: the subscriber did not receive every message") from None
    if proc.returncode != 0:
        raise RuntimeError(f"{what}: the counting subscriber failed ({proc.returncode})")


def raw_paho(port: int, count: int, size: int, inflight: int = 20) -> float:
    """A bare paho client, QoS 1, at most `inflight` messages outstanding (back-pressure:
    paho's message ids wrap at 65,535, so it must never hold more than that queued)."""
    room = threading.BoundedSemaphore(inflight)
    done = threading.Event()
    acked = 0

    def on_publish(client, userdata, mid, rc, props):  # noqa: ANN001
        nonlocal acked
        acked += 1  # paho's network thread only
        room.release()
        if acked == count:
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw")
    client.on_publish = on_publish
    client.max_inflight_messages_set(inflight)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    payload = b"x" * size
    start = time.perf_counter()
    for _ in range(count):
        room.acquire()
        client.publish("bench/raw", payload, qos=1)
    if not done.wait(600):
        raise RuntimeError(f"raw paho: {acked} of {count} PUBACKs after 600 s")
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return elapsed


C_CLIENT_RUN = 50_000  # lines per mosquitto_pub process (see c_client)


def c_client(port: int, count: int, size: int, inflight: int = 20, subscriber: bool = False) -> float:
    """`mosquitto_pub -q 1 -l`: one message per stdin line; each process exits after
    stdin closes and its last PUBACK has arrived. Timed from the first start to the last exit.

    Runs of at most 50,000 lines: mosquitto_pub 2.0.11 in -l mode reads all of stdin
    into its queue and disconnects at the first PUBACK whose 16-bit message id equals
    that of the last line, so above 65,535 queued lines it stops early (after
    count - 65,535 messages) and still exits 0. With `subscriber`, a mosquitto_sub
    counts the arrivals (which caught that) and the broker also delivers every message."""
    line = b"x" * size + b"\n"
    with tempfile.NamedTemporaryFile("wb", suffix=".lines") as lines:
        lines.write(line * min(C_CLIENT_RUN, count))
        lines.flush()
        with tempfile.NamedTemporaryFile("wb", suffix=".lines") as rest:
            rest.write(line * (count % C_CLIENT_RUN))
            rest.flush()
            runs = [lines.name] * (count // C_CLIENT_RUN) + ([rest.name] if count % C_CLIENT_RUN else [])
            topic = "bench/c-sub" if subscriber else "bench/c"
            counter = _counter(port, topic, count) if subscriber else None
            start = time.perf_counter()
            for name in runs:
                with open(name, "rb") as stdin:
                    proc = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
                                           "-M", str(inflight), "-t", topic, "-l", "-i", "bench-c"],
                                          stdin=stdin, capture_output=True)
                if proc.returncode != 0:
                    raise RuntimeError(f"mosquitto_pub failed: {proc.stderr.decode(errors='replace')}")
            elapsed = time.perf_counter() - start
    if counter is not None:
        _wait_counter(counter, "mosquitto_pub")
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


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def command_flood(workdir: Path, broker: Broker, commands: int, interval_s: float = 0.02,
                  quiet_events: int = 250) -> dict[str, float]:
    """Latency of outgoing critical events (commit by another process -> at central) from a
    `lobby bridge` process, first with no commands, then while central floods it with
    `commands` notice.show commands (mosquitto_pub -l, as fast as the broker takes them).
    Every command must be answered (a mosquitto_sub counts the results)."""
    from tests.helpers.central import now_ts

    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "lobby.toml"
    config.write_text(BASE_CONFIG.format(state_dir=workdir / "state", port=broker.port, extra="",
                                         mqtt_extra="", discovery="false"))
    rt = make_runtime(workdir, broker.port)  # only its store is used here
    base = rt.cfg.base_topic
    committed: dict[int, float] = {}
    arrived: dict[int, float] = {}
    online = threading.Event()
    subscriber = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-flood-central")

    def on_message(client, userdata, msg):  # noqa: ANN001
        if msg.topic.endswith("/status"):
            if b'"online"' in msg.payload:
                online.set()
            return
        arrived[json.loads(msg.payload)["seq"]] = time.perf_counter()

    subscriber.on_message = on_message
    subscriber.connect("127.0.0.1", broker.port)
    subscriber.subscribe([(f"{base}/events/health", 1), (f"{base}/status", 1)])
    subscriber.loop_start()
    bridge = subprocess.Popen([sys.executable, "-m", "lobby.cli", "--log-level", "ERROR", "bridge",
                               "--config", str(config)], cwd=Path(__file__).resolve().parents[1])
    online.wait(60)

    def inject(until: Callable[[], bool], at_least: int) -> list[int]:
        seqs: list[int] = []
        while len(seqs) < at_least or not until():
            record = rt.store.emit("health", "gateway.started", {"version": "bench", "config_version": 1})
            committed[record.seq] = time.perf_counter()
            seqs.append(record.seq)
            time.sleep(interval_s)
        deadline = time.monotonic() + 60
        while any(s not in arrived for s in seqs) and time.monotonic() < deadline:
            time.sleep(0.05)
        return seqs

    quiet = inject(lambda: True, quiet_events)
    lines = workdir / "commands.lines"
    with lines.open("w") as fh:
        for i in range(commands):
            fh.write(json.dumps({"id": f"flood-{i}", "ts": now_ts(),
                                 "data": {"notice_id": f"n{i % 50}", "title": "Lift maintenance 电梯维修"}}) + "\n")
    results = workdir / "results.txt"
    with results.open("wb") as out:
        counter = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1",
                                    "-t", f"{base}/cmd/+/result", "-C", str(commands)], stdout=out)
        time.sleep(0.3)
        started = time.perf_counter()
        with lines.open("rb") as stdin:
            sender = subprocess.Popen(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1",
                                       "-t", f"{base}/cmd/notice.show", "-l", "-i", "bench-flood"], stdin=stdin)
            flood = inject(lambda: counter.poll() is not None, quiet_events)
            answered_s = time.perf_counter() - started
            sender.wait(60)
        if counter.poll() is None:
            counter.kill()
    bodies = [json.loads(line) for line in results.read_bytes().splitlines() if line.strip()]
    bridge.terminate()
    bridge.wait(10)
    subscriber.disconnect()
    subscriber.loop_stop()
    rt.store.close()

    def lat(seqs: list[int]) -> list[float]:
        return [1000 * (arrived[s] - committed[s]) for s in seqs if s in arrived]

    q, f = lat(quiet), lat(flood)
    ids = {b.get("id") for b in bodies}
    return {
        "commands": commands, "answered": len(bodies), "distinct_ids": len(ids),
        "ok": sum(1 for b in bodies if b.get("ok")),
        "rate_limited": sum(1 for b in bodies if not b.get("ok") and str(b.get("error", "")).startswith("rate_limited")),
        "other_errors": sum(1 for b in bodies if not b.get("ok") and not str(b.get("error", "")).startswith("rate_limited")),
        "all_answered_s": answered_s,
        "quiet_events": len(q), "quiet_p50_ms": statistics.median(q), "quiet_p99_ms": _pct(q, 0.99),
        "flood_events": len(f), "flood_p50_ms": statistics.median(f), "flood_p99_ms": _pct(f, 0.99),
        "lost_events": len(quiet) + len(flood) - len(q) - len(f),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=30000, help="events for the end-to-end run")
    parser.add_argument("--drain", type=int, default=1_000_000, help="rows of backlog to drain (0: skip)")
    parser.add_argument("--baseline", type=int, default=0,
                        help="messages for the two baselines (default: the drain's rows, else --events)")
    parser.add_argument("--flood", type=int, default=10_000,
                        help="commands in the flood case (event latency with and without it; 0: skip)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # progress shows in a log file
    base_n = args.baseline or args.drain or args.events
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker = Broker(workdir / "broker").start()
        try:
            figures: dict[str, object] = {}
            size = len(outbox.EventRecord(1, "0" * 36, "meter", "meter.reading", Lane.BULK,
                                          "2026-01-01T00:00:00.000Z", "b", 0, True,
                                          outbox.encode_data(READING)).payload(False))
            if args.events or args.drain:
                c_s = c_client(broker.port, base_n, size)
                sub_n = min(base_n, 200_000)
                c_sub_s = c_client(broker.port, sub_n, size, subscriber=True)
                raw_s = raw_paho(broker.port, base_n, size)
                c_rate, raw_rate = base_n / c_s, base_n / raw_s
                print(f"payload {size} bytes per event; broker on loopback; RSS at start {rss_mb():.0f} MB")
                print(f"C client: mosquitto_pub -q 1 -l -M 20, {base_n} msgs  {c_rate:9.0f} msg/s")
                print(f"  the same, {sub_n} msgs, each delivered to a counting mosquitto_sub (QoS 1): "
                      f"{sub_n / c_sub_s:.0f} msg/s, all arrived")
                print(f"raw paho QoS 1, 20 in flight, {base_n} msgs       {raw_rate:9.0f} msg/s")
                figures.update({"payload_bytes": size, "baseline_msgs": base_n, "c_client_msgs_per_s": c_rate,
                                "c_client_with_subscriber_msgs_per_s": sub_n / c_sub_s, "raw_msgs_per_s": raw_rate})
            if args.events:
                e2e_s, _ = product_e2e(workdir / "e2e", broker.port, args.events)
                e2e_rate = args.events / e2e_s
                print(f"bridge end to end, {args.events} events (commit -> PUBACK -> row deleted) "
                      f"{e2e_rate:9.0f} events/s = {e2e_rate / c_rate:.2f} x C client, {e2e_rate / raw_rate:.2f} x raw paho")
                figures.update({"events": args.events, "bridge_events_per_s": e2e_rate, "e2e_vs_c": e2e_rate / c_rate,
                                "e2e_vs_raw": e2e_rate / raw_rate})
            if args.drain:
                result = drain(workdir / "drain", broker, args.drain)
                rate = result["rows_per_s"]
                print(f"backlog drain of {result['rows']} rows: {rate:9.0f} events/s ({result['seconds']:.0f} s) = "
                      f"{rate / c_rate:.2f} x C client (target >= 0.7), {rate / raw_rate:.2f} x raw paho")
                print(f"critical during drain (commit -> at subscriber) p50 {result['critical_p50_ms']:.1f} ms, "
                      f"p99 {result['critical_p99_ms']:.1f} ms over {result['critical_injected']} events "
                      f"(target p99 < 100 ms)")
                print(f"`lobby bridge` process RSS: during drain peak {result['rss_peak_mb']:.0f} MB, "
                      f"idle after {result['rss_idle_mb']:.0f} MB")
                figures["drain"] = {**result, "vs_c": rate / c_rate, "vs_raw": rate / raw_rate}
            if args.flood:
                flood = command_flood(workdir / "flood", broker, args.flood)
                print(f"command flood: {flood['commands']} notice.show commands, {flood['answered']} answered "
                      f"({flood['ok']} ok, {flood['rate_limited']} rate_limited, {flood['other_errors']} other), "
                      f"all within {flood['all_answered_s']:.1f} s")
                print(f"event latency (commit -> at central) without commands p50 {flood['quiet_p50_ms']:.1f} ms, "
                      f"p99 {flood['quiet_p99_ms']:.1f} ms ({flood['quiet_events']} events); during the flood "
                      f"p50 {flood['flood_p50_ms']:.1f} ms, p99 {flood['flood_p99_ms']:.1f} ms ({flood['flood_events']}"
                      f" events) = x{flood['flood_p50_ms'] / flood['quiet_p50_ms']:.2f} / "
                      f"x{flood['flood_p99_ms'] / flood['quiet_p99_ms']:.2f}")
                figures["flood"] = flood
            if args.json:
                Path(args.json).write_text(json.dumps(figures, indent=2))
        finally:
            broker.stop()
    os._exit(0)


if __name__ == "__main__":
    main()
