"""Gateway latencies, end to end, with a baseline measured in the same run.

    .venv/bin/python bench/gateway_bench.py [--presses 500] [--taps 100]

A real `lobby gateway --simulate` process and a local mosquitto; this process
plays the tenant (presses the mock GPIO button through the gateway's control
socket), the guard (presents a card to the simulated PN532 that the real libnfc
driver reads) and central (a subscriber):

- button press (from its release: a short press is recognised when the button
  is let go) -> `button.pressed` event received by the subscriber
- patrol tap (card presented) -> `patrol.scan` received by the subscriber
- baseline: one MQTT QoS 1 message from a bare paho client to the same
  subscriber through the same broker (the transport alone)

It also samples the gateway's RSS idle. Only ratios from one run mean anything:
the machine is shared and noisy.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drivers.gpio.sim import GpioControlClient  # noqa: E402
from drivers.nfc.sim.pn532_control import ControlClient  # noqa: E402
from tests.helpers.site_config import site_toml  # noqa: E402
from tests.helpers.broker import Broker  # noqa: E402

EXTRA = """
[gpio]
pin_factory = "mock"
[[buttons]]
id = "btn-bench"
pin = 17
place = "Lobby"
meaning = "Call staff"
ticket_kind = "enquiry"
category = "other"
bounce_ms = 20
[[readers]]
id = "nfc-bench"
kind = "libnfc"
connstring = "pn532_uart:/dev/unused"
host = "gateway"
checkpoint = "cp-a"
retap_window_s = 0.05
[patrol]
checkpoints = [ { id = "cp-a", name = "A", place = "A", reader = "nfc-bench" },
                { id = "cp-b", name = "B", place = "B", tag_uid = "04A1B2C3D4E501" } ]
guards = [ { id = "g-1", name = "G", card_uid = "7E11AA01" } ]
routes = [ { id = "r", name = "R", checkpoints = ["cp-a", "cp-b"] } ]
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Subscriber:
    def __init__(self, port: int, base: str) -> None:
        self.cond = threading.Condition()
        self.arrivals: dict[str, list[float]] = {}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-central")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([(f"{base}/events/#", 1), ("bench/ping", 1), (f"{base}/status", 1)])
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:  # noqa: ANN001
        now = time.perf_counter()
        key = msg.topic
        if "/events/" in msg.topic:
            key = json.loads(msg.payload)["type"]
        with self.cond:
            self.arrivals.setdefault(key, []).append(now)
            self.cond.notify_all()

    def wait_count(self, key: str, count: int, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.arrivals.get(key, [])) < count:
                if not self.cond.wait(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"no {key} #{count}")
            return self.arrivals[key][count - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presses", type=int, default=500)
    parser.add_argument("--taps", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker = Broker(work / "broker").start()
        config = work / "lobby.toml"
        config.write_text(site_toml(state_dir=work / "state", port=broker.port, extra=EXTRA,
                                             mqtt_extra="", discovery="false"))
        env = {**os.environ, "LOBBY_CLOCK_SYNCED": "1"}
        gateway = subprocess.Popen([sys.executable, "-m", "lobby.cli", "--log-level", "WARNING", "gateway",
                                    "--config", str(config), "--simulate"], cwd=ROOT, env=env)
        base = "lobby/tower-a/gw-test"
        sub = Subscriber(broker.port, base)
        try:
            sub.wait_count(f"{base}/status", 1)
            time.sleep(2.0)
            idle_rss = rss_mb(gateway.pid)

            # baseline: the transport alone
            raw = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw")
            raw.connect("127.0.0.1", broker.port)
            raw.loop_start()
            base_lat = []
            for i in range(1, 201):
                sent = time.perf_counter()
                raw.publish("bench/ping", b"x" * 300, qos=1)
                base_lat.append(sub.wait_count("bench/ping", i) - sent)
            raw.disconnect()
            raw.loop_stop()

            panel = GpioControlClient(work / "state" / "sim" / "gpio.sock")
            press_lat = []
            for i in range(1, args.presses + 1):
                # a short press is recognised when the button is let go (a long press would be
                # decided while it is held), so the clock starts at the release
                panel.request({"cmd": "press", "button": "btn-bench"})
                time.sleep(0.08)
                sent = time.perf_counter()
                panel.request({"cmd": "release", "button": "btn-bench"})
                press_lat.append(sub.wait_count("button.pressed", i) - sent)
                time.sleep(0.03)

            reader = ControlClient(work / "state" / "sim" / "nfc-bench.sock")
            tap_lat = []
            for i in range(1, args.taps + 1):
                deadline = time.monotonic() + 10
                while not reader.status().get("polling") and time.monotonic() < deadline:
                    time.sleep(0.005)  # the reader has seen the card go and polls for the next one
                time.sleep(0.1)  # ... and it stays away longer than the re-tap window
                sent = time.perf_counter()
                reader.present("7E11AA01", "classic_1k")
                tap_lat.append(sub.wait_count("patrol.scan", i) - sent)
                reader.remove()

            busy_rss = rss_mb(gateway.pid)
        finally:
            gateway.terminate()
            gateway.wait(15)
            broker.stop()
    b50, b99 = pct(base_lat, 0.5) * 1000, pct(base_lat, 0.99) * 1000
    print(f"baseline: MQTT QoS 1 publish -> subscriber      p50 {b50:7.2f} ms  p99 {b99:7.2f} ms  (200 messages)")
    for label, values in (("button press -> button.pressed at central", press_lat),
                          ("patrol tap -> patrol.scan at central", tap_lat)):
        p50, p99 = pct(values, 0.5) * 1000, pct(values, 0.99) * 1000
        print(f"{label:48} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  ({len(values)} events; "
              f"ratio to baseline p50 {p50 / b50:.1f}x, p99 {p99 / b99:.1f}x)")
    print(f"gateway RSS: idle {idle_rss:.1f} MB, after the run {busy_rss:.1f} MB; mean press latency "
          f"{statistics.mean(press_lat) * 1000:.1f} ms")
    os._exit(0)


if __name__ == "__main__":
    main()
