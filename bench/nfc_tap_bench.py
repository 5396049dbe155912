"""NFC tap latency: the simulator presents a tag -> the tap reaches the callback.

Runs the PN532 simulator in this process, paced at 115200 baud, and the real
LibnfcReader (pynfc/libnfc) against it. Each tap is timed from `sim.present()`
to the `on_event` callback, while the reader has a poll running (as when a card
is brought to a waiting reader). The baseline, measured in the same run on the
same pty before the reader starts, is one raw InListPassiveTarget exchange
(command out, ACK and target data back) with no libnfc in between. This machine
is shared and noisy: compare the ratio, not the milliseconds.

    .venv/bin/python bench/nfc_tap_bench.py [--taps 200]
"""

from __future__ import annotations

import argparse
import os
import queue
import select
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers.nfc.base import TagEvent  # noqa: E402
from drivers.nfc.libnfc_reader import LibnfcReader  # noqa: E402
from drivers.nfc.sim.pn532 import ACK_FRAME, HOST_TFI, PN532Simulator, decode_frame, encode_frame  # noqa: E402

IN_LIST_PASSIVE_TARGET = encode_frame(HOST_TFI, bytes([0x4A, 0x01, 0x00]))


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def raw_exchange(fd: int) -> float:
    """One InListPassiveTarget round trip on the pty; seconds."""
    started = time.perf_counter()
    os.write(fd, IN_LIST_PASSIVE_TARGET)
    received = b""
    while True:
        if not select.select([fd], [], [], 5.0)[0]:
            raise RuntimeError("simulator did not answer")
        received += os.read(fd, 512)
        if received.startswith(ACK_FRAME) and decode_frame(received[len(ACK_FRAME):])[0] is not None:
            return time.perf_counter() - started


def measure_baseline(sim: PN532Simulator, count: int) -> list[float]:
    sim.present("04A2243B", "classic_1k")
    fd = os.open(sim.link, os.O_RDWR | os.O_NOCTTY)
    try:
        raw_exchange(fd)  # warm-up
        return [raw_exchange(fd) for _ in range(count)]
    finally:
        os.close(fd)
        sim.remove()


def wait_for_poll(sim: PN532Simulator) -> None:
    deadline = time.monotonic() + 10
    while not sim.status()["polling"]:
        if time.monotonic() > deadline:
            raise RuntimeError("reader is not polling")
        time.sleep(0.001)


def measure_taps(sim: PN532Simulator, count: int) -> list[float]:
    arrivals: queue.SimpleQueue[tuple[TagEvent, float]] = queue.SimpleQueue()
    reader = LibnfcReader("bench", f"pn532_uart:{sim.link}", retap_window_s=0.0,
                          presence_interval_s=0.02)
    reader.start(lambda event: arrivals.put((event, time.perf_counter())))
    latencies = []
    try:
        for n in range(count):
            uid = f"A0{n:06X}"
            wait_for_poll(sim)
            presented = time.perf_counter()
            sim.present(uid, "classic_1k")
            while True:
                event, at = arrivals.get(timeout=10)
                if event.kind == "tap" and event.uid == uid:
                    latencies.append(at - presented)
                    break
            sim.remove()
    finally:
        reader.stop()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sim = PN532Simulator(Path(tmp) / "pn532", baud=115200, pace=True).start()
        try:
            baseline = measure_baseline(sim, args.taps)
            taps = measure_taps(sim, args.taps)
        finally:
            sim.stop()

    rows = [("baseline: raw InListPassiveTarget round trip", baseline), ("tap: present -> on_event callback", taps)]
    print(f"NFC tap latency, {args.taps} samples each, PN532 simulator paced at 115200 baud")
    for label, samples in rows:
        print(f"  {label:<46} p50 {statistics.median(samples) * 1000:7.2f} ms   "
              f"p99 {percentile(samples, 0.99) * 1000:7.2f} ms")
    p50 = statistics.median(taps) / statistics.median(baseline)
    p99 = percentile(taps, 0.99) / percentile(baseline, 0.99)
    print(f"  {'ratio tap / baseline':<46} p50 {p50:7.2f} x    p99 {p99:7.2f} x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
