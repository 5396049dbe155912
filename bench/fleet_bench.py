"""A fleet of lobby gateways on one broker: throughput and per-gateway latency, with a baseline.

    .venv/bin/python bench/fleet_bench.py [--gateways 200] [--procs 4] [--duration 20]
                                          [--time-scale 60] [--real-bridges 4] [--json FILE]
                                          [--cluster]

One mosquitto on loopback (the tests' broker helper, $SYS every second). Central is two
MQTT 5 consumers sharing one subscription ($share/central/lobby/+/+/events/+ and batch/+), as
docs/scaling.md recommends for central services.

--cluster runs the same fleet against three RabbitMQ nodes with the MQTT plugin
(tests/helpers/rabbit_cluster.py; as root, ~30 s to start). RabbitMQ 3.10 refuses MQTT 5,
so central is two MQTT 3.1.1 consumers with persistent sessions (clean_session = False,
QoS 1; a quorum queue each) on nodes 2 and 3, each subscribed to its own partition of the
sites with explicit per-site filters (lobby/<site>/+/events/+ and batch/+: consumer A the
even-numbered sites, B the odd ones). The gateways are spread over the three nodes round
robin; the real bridges list the three nodes in `[mqtt] hosts` (rotated so each starts on
its own node) with `broker_kind = "rabbitmq"`. The baselines run against the cluster: the
single client on node 1, the gateway alone on node 1. The nodes' throughput comes from
RabbitMQ's own counters (rabbit_global_counters, read with `rabbitmqctl eval` at the start
and the end of the fleet's window, summed over the nodes; the MQTT plugin of 3.10 publishes
and consumes through internal AMQP 0-9-1 channels, so they are counted there).

1. Baseline, single client: one paho client publishes event-sized messages at QoS 1 with
   20 in flight as fast as it can; PUBACKs per second. Then one gateway alone at the
   fleet's per-gateway rate: its latency p50/p99 (publish -> received by central).
2. The fleet: --gateways simulated gateways (paho clients, spread over --procs
   processes, 4 gateways per site) publish the realistic mix below, on the contract's
   topics, for --duration seconds. Broker-side throughput from mosquitto's own
   $SYS/broker/publish/messages/received|sent counters; latency per message, reported
   over all messages and per gateway (the median gateway's p99 and the worst one's).
3. The product path for a subset: --real-bridges gateways run the real code (store,
   outbox, Bridge from lobby.runtime) with events committed to their stores at
   the same mix; latency commit -> central.

The mix, per gateway per simulated minute (config/example.toml and shared/DOMAIN.md): 5
meter readings (4 meters, one polled every 30 s), 1 health report, patrol scans 0.25,
visitor events 0.15, feedback presses 0.1, tickets 0.03, about 6.5 messages. --time-scale
compresses time: at 60 a simulated minute lasts one second, so 200 gateways send what
12 000 gateways would in real time.

This machine is shared and noisy, and the broker, the gateways and central share its
CPUs: only the ratios measured in the same run mean much; absolute figures are printed
for context.
"""

from __future__ import annotations

import argparse
import heapq
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers.broker import Broker  # noqa: E402

# (kind, type, per simulated minute, periodic?, payload size in bytes)
MIX = [
    ("meter", "meter.reading", 5.0, True, 420),
    ("health", "health.report", 1.0, True, 380),
    ("patrol", "patrol.scan", 0.25, False, 300),
    ("visitor", "visitor.checked_in", 0.15, False, 520),
    ("feedback", "feedback.press", 0.10, False, 260),
    ("ticket", "ticket.created", 0.03, False, 640),
]
PER_MINUTE = sum(m[2] for m in MIX)
SHARE = "$share/central/lobby/+/+/events/+"
SHARE_BATCHES = "$share/central/lobby/+/+/batch/+"  # the real bridges send bulk readings in batches
GATEWAYS_PER_SITE = 4


def gateway_names(count: int, prefix: str = "gw") -> list[tuple[str, str]]:
    return [(f"site-{i // GATEWAYS_PER_SITE:03d}", f"{prefix}-{i:04d}") for i in range(count)]


def envelope(kind: str, type_: str, seq: int, size: int, gateway: str) -> bytes:
    data = {"sent_ns": time.time_ns(), "gateway": gateway, "pad": ""}
    body = {"id": str(uuid.uuid4()), "type": type_, "seq": seq, "ts": time.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "clock_synced": True, "boot_id": "bench", "mono_ns": time.monotonic_ns(), "historical": False, "data": data}
    raw = json.dumps(body, separators=(",", ":"))
    data["pad"] = "x" * max(0, size - len(raw))
    return json.dumps(body, separators=(",", ":")).encode()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --------------------------------------------------------------------------- central


def partition_filters(sites: list[str]) -> list[tuple[str, int]]:
    """Explicit per-site filters (QoS 1) for a consumer that owns these sites."""
    return [(f"lobby/{site}/+/{kind}/+", 1) for site in sites for kind in ("events", "batch")]


def site_partition(site: str, parts: int = 2) -> int:
    """Which consumer owns a site: by its number (site-007 -> odd -> B); a site without one -> A."""
    digits = "".join(ch for ch in site.rsplit("-", 1)[-1] if ch.isdigit())
    return int(digits) % parts if digits else 0


def consumer(port: int, ready: Any, stop: Any, out: Any, index: int, sites: list[str] | None = None) -> None:
    """One of central's consumers; latency per message.

    sites None: a shared MQTT 5 subscription (mosquitto). Otherwise MQTT 3.1.1 with a
    persistent session (clean_session False, QoS 1) subscribed to these sites only (RabbitMQ)."""
    latencies: dict[str, list[float]] = {}
    count = 0
    last = time.monotonic()
    lock = threading.Lock()

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        nonlocal count, last
        now = time.time_ns()
        last = time.monotonic()
        try:
            doc = json.loads(msg.payload)
            items = doc["items"] if "/batch/" in msg.topic else [doc]
        except (ValueError, KeyError, TypeError):
            return
        for item in items:  # each event of a batch counts as one, as for any consumer
            try:
                data = item["data"]
                gateway, sent_ns = data["gateway"], data["sent_ns"]
            except (KeyError, TypeError):  # e.g. the real gateways' own gateway.started
                continue
            with lock:
                count += 1
                latencies.setdefault(gateway, []).append((now - sent_ns) / 1e6)

    if sites is None:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"central-{index}", protocol=mqtt.MQTTv5)
        filters = [(SHARE, 1), (SHARE_BATCHES, 1)]
    else:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"central-{index}", protocol=mqtt.MQTTv311,
                             clean_session=False)
        filters = partition_filters(sites)
    client.on_message = on_message
    subscribed = threading.Event()
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(filters)
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    subscribed.wait(10)
    ready.set()
    stop.wait()
    drain_until = time.monotonic() + 60
    while time.monotonic() - last < 1.0 and time.monotonic() < drain_until:  # take in the backlog
        time.sleep(0.1)
    client.disconnect()
    client.loop_stop()
    with lock:
        out.put({"index": index, "count": count, "latencies": latencies})


class SysMonitor:
    """mosquitto's own counters ($SYS, every second): PUBLISH packets in and out."""

    def __init__(self, port: int) -> None:
        self.samples: list[tuple[float, str, int]] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-sys")
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe([("$SYS/broker/publish/messages/+", 0),
                                                                      ("$SYS/broker/clients/connected", 0)])
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            self.samples.append((time.monotonic(), msg.topic.rsplit("/", 1)[-1], int(msg.payload)))
        except ValueError:
            pass

    def rate(self, name: str, start: float, end: float) -> float:
        """Change per second of counter `name` between its first and last sample in [start, end]."""
        inside = [(t, v) for t, n, v in self.samples if n == name and start <= t <= end]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            return float("nan")
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])

    def peak(self, name: str) -> int:
        return max((v for _, n, v in self.samples if n == name), default=0)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class RabbitCounters:
    """RabbitMQ's own counters on every node of the cluster, read with `rabbitmqctl eval`
    (a short-lived Erlang VM each, ~0.4 s: read twice, at the start and the end of the window).

    The MQTT plugin of 3.10 goes through internal AMQP 0-9-1 channels: PUBLISHes in are
    `messages_received_total` of protocol amqp091, deliveries to consumers are the queues'
    `messages_delivered_total`."""

    EXPR = ("M = rabbit_global_counters:overview(), A = maps:get([{protocol,amqp091}], M), "
            "D = lists:sum([maps:get(messages_delivered_total, maps:get([{protocol,amqp091},{queue_type,Q}], M)) "
            "|| Q <- [rabbit_classic_queue, rabbit_quorum_queue]]), "
            "{maps:get(messages_received_total, A), D}.")

    def __init__(self, nodes: list[Any]) -> None:
        self.nodes = nodes
        self.snaps: list[tuple[float, list[tuple[int, int]]]] = []

    def _read(self, node: Any) -> tuple[int, int]:
        import re

        text = node.ctl("eval", self.EXPR, timeout=30, check=False)
        numbers = [int(x) for x in re.findall(r"-?\d+", text)]
        return (numbers[0], numbers[1]) if len(numbers) >= 2 else (-1, -1)

    def snapshot(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        t0 = time.monotonic()
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            values = list(pool.map(self._read, self.nodes))
        self.snaps.append(((t0 + time.monotonic()) / 2, values))

    def rate(self, which: int) -> float:
        if len(self.snaps) < 2:
            return float("nan")
        (t0, a), (t1, b) = self.snaps[0], self.snaps[-1]
        if any(v[which] < 0 for v in a + b) or t1 <= t0:
            return float("nan")
        return (sum(v[which] for v in b) - sum(v[which] for v in a)) / (t1 - t0)


# --------------------------------------------------------------------------- gateways (paho)


def gateway_worker(names: list[tuple[str, str, int]], duration: float, scale: float, seed: int,
                   start_at: float, out: Any) -> None:
    """Simulated gateways: one paho client each, the contract's topics, QoS 1, the mix above."""
    rng = random.Random(seed)
    clients = []
    acked = 0
    ack_lock = threading.Lock()

    def on_publish(*args: Any) -> None:
        nonlocal acked
        with ack_lock:
            acked += 1

    for site, gw, port in names:
        base = f"lobby/{site}/{gw}"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"lobby-{gw}")
        client.will_set(f"{base}/status", b'{"state":"offline"}', qos=1, retain=True)
        client.max_inflight_messages_set(20)
        client.max_queued_messages_set(0)
        client.on_publish = on_publish
        client.connect("127.0.0.1", port, keepalive=60)
        client.loop_start()
        client.publish(f"{base}/status", b'{"state":"online"}', qos=1, retain=True)
        clients.append((base, gw, client))
    sent = 0  # events; the status messages above are acknowledged too
    events: list[tuple[float, int, int]] = []
    for g in range(len(clients)):
        for m, (_, _, per_min, periodic, _) in enumerate(MIX):
            interval = 60.0 / per_min / scale
            first = rng.uniform(0, interval) if periodic else rng.expovariate(1 / interval)
            events.append((start_at + first, g, m))
    heapq.heapify(events)
    seqs = [0] * len(clients)
    end = start_at + duration
    while events:
        when, g, m = heapq.heappop(events)
        if when >= end:
            continue
        delay = when - time.time()
        if delay > 0:
            time.sleep(delay)
        base, gw, client = clients[g]
        kind, type_, per_min, periodic, size = MIX[m]
        seqs[g] += 1
        client.publish(f"{base}/events/{kind}", envelope(kind, type_, seqs[g], size, gw), qos=1)
        sent += 1
        interval = 60.0 / per_min / scale
        heapq.heappush(events, (when + (interval if periodic else rng.expovariate(1 / interval)), g, m))
    deadline = time.time() + 30
    while time.time() < deadline:
        with ack_lock:
            if acked >= sent + len(clients):
                break
        time.sleep(0.05)
    for _, _, client in clients:
        client.disconnect()
        client.loop_stop()
    out.put({"sent": sent, "acked": acked - len(clients)})


# --------------------------------------------------------------------------- gateways (the product)


def real_bridge_worker(names: list[tuple[str, str, int]], duration: float, scale: float, seed: int,
                       start_at: float, workdir: str, hosts: list[str] | None, out: Any) -> None:
    """The real store + outbox + Bridge per gateway; events committed at the same mix.

    hosts (a cluster's nodes): `[mqtt] hosts` starting at the gateway's own node, broker_kind rabbitmq."""
    from lobby.config import parse_config
    from lobby.runtime import Runtime
    from mqtt_bridge.store import Lane
    from tests.helpers.site_config import site_toml

    os.environ.setdefault("LOBBY_CLOCK_SYNCED", "1")
    rng = random.Random(seed)
    runtimes = []
    for site, gw, port in names:
        if hosts:
            first = hosts.index(f"127.0.0.1:{port}")
            text = site_toml(state_dir=f"{workdir}/{gw}", hosts=hosts[first:] + hosts[:first], extra="",
                             mqtt_extra='broker_kind = "rabbitmq"', discovery="false")
        else:
            text = site_toml(state_dir=f"{workdir}/{gw}", port=port, extra="", mqtt_extra="",
                             discovery="false")
        text = text.replace('site_id = "tower-a"', f'site_id = "{site}"').replace('gateway_id = "gw-test"',
                                                                                  f'gateway_id = "{gw}"')
        runtime = Runtime(parse_config(text, f"{gw}.toml"), None)
        runtime.start()
        runtimes.append((gw, runtime))
    events: list[tuple[float, int, int]] = []
    for g in range(len(runtimes)):
        for m, (_, _, per_min, periodic, _) in enumerate(MIX):
            interval = 60.0 / per_min / scale
            events.append((start_at + (rng.uniform(0, interval) if periodic else rng.expovariate(1 / interval)), g, m))
    heapq.heapify(events)
    committed = 0
    end = start_at + duration
    while events:
        when, g, m = heapq.heappop(events)
        if when >= end:
            continue
        delay = when - time.time()
        if delay > 0:
            time.sleep(delay)
        gw, runtime = runtimes[g]
        kind, type_, per_min, periodic, size = MIX[m]
        data = {"sent_ns": time.time_ns(), "gateway": gw, "pad": "x" * max(0, size - 250)}
        runtime.store.emit(kind, type_, data, Lane.BULK if kind == "meter" else Lane.CRITICAL)
        runtime.bridge.wake()
        committed += 1
        interval = 60.0 / per_min / scale
        heapq.heappush(events, (when + (interval if periodic else rng.expovariate(1 / interval)), g, m))
    deadline = time.time() + 30
    while time.time() < deadline and any(r.store.scalar("SELECT count(*) FROM outbox") for _, r in runtimes):
        time.sleep(0.1)
    for _, runtime in runtimes:
        runtime.stop()
    out.put({"sent": committed, "acked": committed})


# --------------------------------------------------------------------------- baseline


def single_client_max(port: int, seconds: float, size: int) -> float:
    """PUBACKs per second for one client publishing as fast as it can (20 in flight)."""
    acked = 0
    lock = threading.Lock()
    room = threading.Semaphore(20)

    def on_publish(*args: Any) -> None:
        nonlocal acked
        with lock:
            acked += 1
        room.release()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-single")
    client.on_publish = on_publish
    client.max_inflight_messages_set(20)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    seq = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        room.acquire()
        seq += 1
        client.publish("lobby/site-base/gw-base/events/meter", envelope("meter", "meter.reading", seq, size,
                                                                        "gw-base"), qos=1)
    while True:
        with lock:
            if acked >= seq:
                break
        time.sleep(0.001)
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return acked / elapsed


# --------------------------------------------------------------------------- run


def run_phase(target: Any, ports: list[int], names: list[tuple[str, str]], procs: int, duration: float,
              scale: float, extra: tuple[Any, ...] = (), connect_s: float = 0.02) -> list[dict[str, Any]]:
    """Gateways placed on the broker's nodes round robin (one port: all on it), spread over procs."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 2.0 + connect_s * len(names)  # time to connect every client first
    placed = [(site, gw, ports[i % len(ports)]) for i, (site, gw) in enumerate(names)]
    chunks = [placed[i::procs] for i in range(procs)] if procs > 1 else [placed]
    workers = [ctx.Process(target=target, args=(chunk, duration, scale, 1000 + i, start_at, *extra, out))
               for i, chunk in enumerate(chunks) if chunk]
    for w in workers:
        w.start()
    results = [out.get(timeout=duration + 120) for _ in workers]
    for w in workers:
        w.join(10)
    return results


def summarise(latencies: dict[str, list[float]], which: set[str] | None = None) -> dict[str, float]:
    chosen = {g: v for g, v in latencies.items() if which is None or g in which}
    flat = [x for v in chosen.values() for x in v]
    per_gw_p99 = [percentile(v, 0.99) for v in chosen.values() if v]
    per_gw_p50 = [percentile(v, 0.50) for v in chosen.values() if v]
    return {"messages": len(flat), "gateways": len(chosen), "p50_ms": percentile(flat, 0.50),
            "p99_ms": percentile(flat, 0.99), "max_ms": max(flat) if flat else float("nan"),
            "gateway_p50_median_ms": statistics.median(per_gw_p50) if per_gw_p50 else float("nan"),
            "gateway_p99_median_ms": statistics.median(per_gw_p99) if per_gw_p99 else float("nan"),
            "gateway_p99_worst_ms": max(per_gw_p99) if per_gw_p99 else float("nan")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateways", type=int, default=200)
    parser.add_argument("--procs", type=int, default=4, help="processes the simulated gateways are spread over")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of fleet traffic")
    parser.add_argument("--time-scale", type=float, default=60.0, help="simulated minutes per real minute")
    parser.add_argument("--real-bridges", type=int, default=4, help="gateways running the real outbox + bridge")
    parser.add_argument("--baseline-seconds", type=float, default=5.0, help="the single client's run")
    parser.add_argument("--alone-seconds", type=float, default=8.0, help="one gateway alone at the fleet's rate")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--cluster", action="store_true",
                        help="three RabbitMQ nodes (MQTT plugin) instead of one mosquitto; run as root")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    fleet_names = gateway_names(args.gateways)
    real_names = gateway_names(args.real_bridges, prefix="gw-real")
    real_names = [(f"site-real-{i // GATEWAYS_PER_SITE:03d}", gw) for i, (_, gw) in enumerate(real_names)]
    ctx = mp.get_context("spawn")
    stop, out = ctx.Event(), ctx.Queue()
    readies = [ctx.Event() for _ in range(2)]
    broker: Any = None
    rabbit: Any = None
    monitor: Any = None
    counters: RabbitCounters | None = None
    hosts: list[str] | None = None
    if args.cluster:
        from tests.helpers.rabbit_cluster import RabbitCluster

        t_start = time.monotonic()
        rabbit = RabbitCluster(workdir / "rabbitmq").start()
        print(f"cluster: {len(rabbit.nodes)} RabbitMQ nodes up in {time.monotonic() - t_start:.0f} s "
              f"(MQTT ports {', '.join(str(n.mqtt_port) for n in rabbit.nodes)})")
        ports = [n.mqtt_port for n in rabbit.nodes]
        hosts = [n.endpoint for n in rabbit.nodes]
        # Central: consumer A on node 2 with the even-numbered sites, B on node 3 with the odd ones
        # (the baseline's site-base and the lone gateway's site-solo have no number: A's).
        sites = sorted({s for s, _ in fleet_names + real_names} | {"site-solo", "site-base"})
        partitions = [[s for s in sites if site_partition(s) == i] for i in range(2)]
        consumers = [ctx.Process(target=consumer, args=(ports[1 + i], readies[i], stop, out, i, partitions[i]))
                     for i in range(2)]
        counters = RabbitCounters(rabbit.nodes)
    else:
        broker = Broker(workdir / "broker", extra="sys_interval 1").start()
        ports = [broker.port]
        consumers = [ctx.Process(target=consumer, args=(broker.port, readies[i], stop, out, i)) for i in range(2)]
    connect_s = 0.05 if args.cluster else 0.02  # a RabbitMQ MQTT connection costs more to set up
    try:
        for c in consumers:
            c.start()
        for r in readies:
            r.wait(30)
        if not args.cluster:
            monitor = SysMonitor(broker.port)
        per_gw_rate = PER_MINUTE * args.time_scale / 60.0
        print(f"mix: {PER_MINUTE:.2f} messages per gateway per simulated minute; time scale {args.time_scale:g} "
              f"-> {per_gw_rate:.2f} msg/s per gateway")

        single = single_client_max(ports[0], args.baseline_seconds, 420)
        print(f"baseline: one client, as fast as it can (QoS 1, 20 in flight): {single:,.0f} msg/s")

        run_phase(gateway_worker, ports[:1], [("site-solo", "gw-solo")], 1, args.alone_seconds, args.time_scale)
        threads = []
        results: dict[str, list[dict[str, Any]]] = {}
        if real_names:
            t = threading.Thread(target=lambda: results.__setitem__("real", run_phase(
                real_bridge_worker, ports, real_names, 1, args.duration, args.time_scale,
                (str(workdir / "stores"), hosts), connect_s)))
            threads.append(t)
        t = threading.Thread(target=lambda: results.__setitem__("fleet", run_phase(
            gateway_worker, ports, fleet_names, args.procs, args.duration, args.time_scale, (), connect_s)))
        threads.append(t)
        mono0 = time.monotonic() + (2.0 + connect_s * len(fleet_names))
        for t in threads:
            t.start()
        mono1 = mono0 + args.duration
        if counters is not None:  # the nodes' counters at the start and just before the end of the window
            time.sleep(max(0.0, mono0 - time.monotonic()))  # (while every gateway is still connected)
            counters.snapshot()
            time.sleep(max(0.0, mono1 - 1.0 - time.monotonic()))
            counters.snapshot()
        for t in threads:
            t.join()
        time.sleep(1.5)
    finally:
        stop.set()
    try:
        gathered = sorted((out.get(timeout=90) for _ in consumers), key=lambda part: part["index"])
        for c in consumers:
            c.join(10)
    finally:
        if rabbit is not None:
            rabbit.stop()
    latencies: dict[str, list[float]] = {}
    for part in gathered:
        for gw, values in part["latencies"].items():
            latencies.setdefault(gw, []).extend(values)
    received = sum(part["count"] for part in gathered)
    share_split = [part["count"] for part in gathered]
    if counters is not None:
        broker_in, broker_out = counters.rate(0), counters.rate(1)
        # clients placed on each node: the gateways round robin, the real bridges' first host, central
        per_node = [sum(1 for i in range(len(fleet_names)) if i % len(ports) == n)
                    + sum(1 for i in range(len(real_names)) if i % len(ports) == n) + (1 if n in (1, 2) else 0)
                    for n in range(len(ports))]
        connected = sum(per_node)
        source = f"RabbitMQ counters, {len(per_node)} nodes"
    else:
        broker_in = monitor.rate("received", mono0, mono1)
        broker_out = monitor.rate("sent", mono0, mono1)
        connected = monitor.peak("connected")
        monitor.close()
        broker.stop()
        per_node = [connected]
        source = "mosquitto $SYS"

    sent_fleet = sum(r["sent"] for r in results.get("fleet", []))
    sent_real = sum(r["sent"] for r in results.get("real", []))
    solo = summarise(latencies, {"gw-solo"})
    fleet = summarise(latencies, {gw for _, gw in fleet_names})
    real = summarise(latencies, {gw for _, gw in real_names})
    offered = (len(fleet_names) + len(real_names)) * per_gw_rate
    figures = {
        "broker": "rabbitmq-3-node-cluster" if args.cluster else "mosquitto",
        "gateways": len(fleet_names), "real_bridges": len(real_names), "time_scale": args.time_scale,
        "messages_per_gateway_per_min": PER_MINUTE, "offered_msg_s": offered,
        "equivalent_real_time_gateways": (len(fleet_names) + len(real_names)) * args.time_scale,
        "single_client_max_msg_s": single, "alone": solo, "fleet": fleet, "real": real,
        "broker_publish_in_msg_s": broker_in, "broker_publish_out_msg_s": broker_out,
        "clients_connected_peak": connected, "clients_connected_per_node": per_node, "sent_fleet": sent_fleet, "sent_real": sent_real,
        "received_by_central": received, "shared_subscription_split": share_split,
        "ratio_broker_in_to_single_client": broker_in / single if single else float("nan"),
        "ratio_fleet_p50_to_alone_p50": fleet["p50_ms"] / solo["p50_ms"] if solo["p50_ms"] else float("nan"),
        "ratio_fleet_p99_to_alone_p99": fleet["p99_ms"] / solo["p99_ms"] if solo["p99_ms"] else float("nan"),
        "ratio_real_p99_to_fleet_p99": real["p99_ms"] / fleet["p99_ms"] if fleet["p99_ms"] else float("nan"),
    }
    print(f"fleet: {len(fleet_names)} simulated + {len(real_names)} real gateways for {args.duration:g} s "
          f"(= {figures['equivalent_real_time_gateways']:,.0f} gateways in real time), offered {offered:,.0f} msg/s")
    print(f"  broker ({source}): PUBLISH in {broker_in:,.0f}/s, out {broker_out:,.0f}/s, "
          + (f"{connected} clients placed ({per_node} per node)" if args.cluster
             else f"{connected} clients connected at peak"))
    split_label = "consumer split (even / odd sites)" if args.cluster else "shared subscription split"
    print(f"  sent {sent_fleet + sent_real:,} events, central received {fleet['messages'] + real['messages']:,} "
          f"of them ({received:,} messages in the whole run, {split_label} {share_split})")
    for label, s in (("one gateway alone", solo), ("fleet (paho gateways)", fleet),
                     ("fleet (real outbox+bridge)", real)):
        print(f"  {label:28} latency p50 {s['p50_ms']:7.1f} ms  p99 {s['p99_ms']:7.1f} ms  "
              f"per-gateway p99: median {s['gateway_p99_median_ms']:7.1f} ms, worst {s['gateway_p99_worst_ms']:7.1f} ms"
              f"  ({s['messages']:,} msgs, {s['gateways']} gateways)")
    print(f"ratios: broker intake / single-client max {figures['ratio_broker_in_to_single_client']:.2f}; "
          f"fleet p50 / alone p50 {figures['ratio_fleet_p50_to_alone_p50']:.2f}; "
          f"fleet p99 / alone p99 {figures['ratio_fleet_p99_to_alone_p99']:.2f}; "
          f"real-bridge p99 / paho-gateway p99 {figures['ratio_real_p99_to_fleet_p99']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
