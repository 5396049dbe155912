"""The service loop (lobby/cli/service.py) gives the heap back on a schedule and stops on SIGTERM.

`serve` runs here in the test's main thread, as in `lobby gateway` (signal handlers
need it); a helper thread sends the process SIGTERM once the heap has been trimmed a
few times, and the handlers the test runner had are put back afterwards.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from lobby.cli import service


def test_the_heap_is_trimmed_every_interval_until_sigterm_stops_the_service() -> None:
    calls: list[str] = []
    trims: list[float] = []
    trimmed_thrice = threading.Event()
    restart = threading.Event()

    def trim() -> None:
        trims.append(time.monotonic())
        if len(trims) == 3:
            trimmed_thrice.set()

    def send_sigterm() -> None:
        if trimmed_thrice.wait(10):
            os.kill(os.getpid(), signal.SIGTERM)

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    killer = threading.Thread(target=send_sigterm, daemon=True)
    try:
        killer.start()
        started = time.monotonic()
        code = service.serve(lambda: calls.append("start"), lambda: calls.append("stop"), restart,
                             trim=trim, trim_every_s=0.05)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    killer.join(5)
    assert code == 0
    assert calls == ["start", "stop"]
    assert len(trims) >= 3
    assert trims[0] - started >= 0.05  # not at once: the first after one interval
    assert all(later - earlier >= 0.05 for earlier, later in zip(trims, trims[1:]))



TRIM_PROBE = """
import ctypes, gc
from lobby import heap
def rss_kb():
    return int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1])
ctypes.CDLL(None).mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD: these blocks come from the heap, not mmap
blocks = [bytearray(100_000) for _ in range(300)]  # about 29 MiB, touched
kept = blocks[::10]  # a live block after each run of nine freed ones: the heap's top cannot shrink
del blocks
gc.collect()
before = rss_kb()
heap.trim()
print(before - rss_kb(), len(kept))
"""


def test_trimming_returns_freed_pages_inside_the_heap() -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", TRIM_PROBE], cwd=root, capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    returned_kb = int(out[0])
    assert returned_kb > 10_000  # of about 26 MiB freed between live blocks
