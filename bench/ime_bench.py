"""Pinyin input method: index load time and memory, per-keystroke candidate latency.

Load: `PinyinIndex()` (json.load of the packed data file + array.frombytes), against a
baseline of reading the same file's bytes, in the same run. Memory: what tracemalloc
sees allocated by the loaded index, and the process RSS growth.

Keystrokes: visitors typing common names and words letter by letter into a TextEntry
(each letter re-segments the composition and ranks candidates; picks commit a
candidate as a visitor would). Timed per keystroke, cold (all caches cleared before
each name, as for a fresh visitor) and warm (the same names again). The baseline,
measured in the same run, is a plain dict lookup of the composition in a dict of
100,000 pinyin strings: the cheapest conceivable "candidate lookup". This machine is
shared and noisy: compare ratios, not microseconds. A Pi 4 is about 3-5x slower.

    .venv/bin/python bench/ime_bench.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.ime import pinyin  # noqa: E402
from kiosk.ime.keyboard import TextEntry  # noqa: E402
from kiosk.ime.pinyin import DATA_PATH, PinyinEngine, PinyinIndex  # noqa: E402

# (kind, letters, what is picked: characters in order, or "" to take the first candidate)
SCRIPT = [
    ("name", "zhangwei", "张伟"), ("name", "wangfang", "王芳"), ("name", "liuyang", "刘洋"),
    ("name", "chenjing", "陈静"), ("name", "lixiaolong", "李小龙"), ("name", "zhaolei", "赵磊"),
    ("name", "huangmin", "黄敏"), ("name", "zhoujie", "周杰"), ("name", "wuqiang", "吴强"),
    ("name", "xuli", "徐丽"), ("name", "ouyangfeng", "欧阳锋"), ("name", "sunhao", "孙浩"),
    ("text", "beijing", ""), ("text", "shanghai", ""), ("text", "gongsi", ""), ("text", "weixiu", ""),
    ("text", "loushui", ""), ("text", "wuyeguanli", ""), ("text", "tingchechang", ""), ("text", "zw", ""),
]


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def bench_load(repeats: int) -> None:
    base, load = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        DATA_PATH.read_bytes()
        base.append(time.perf_counter() - t)
        gc.collect()
        t = time.perf_counter()
        PinyinIndex()
        load.append(time.perf_counter() - t)
    b, m = statistics.median(base), statistics.median(load)
    size = DATA_PATH.stat().st_size
    print(f"data file: {DATA_PATH.name}, {size / 1e6:.2f} MB")
    print(f"load  baseline (read bytes) median {b * 1e3:7.2f} ms")
    print(f"load  PinyinIndex()         median {m * 1e3:7.2f} ms   ratio {m / b:6.1f}x   (n={repeats})")
    gc.collect()
    tracemalloc.start()
    idx = PinyinIndex()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # RSS growth and first-load time in a fresh interpreter (this one's heap is already grown)
    probe = (
        "import gc, time, sys; sys.path.insert(0, %r)\n"
        "def rss():\n"
        "    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS:'))\n"
        "import kiosk.ime.pinyin as p\n"
        "r0 = rss(); t = time.perf_counter(); idx = p.PinyinIndex(); dt = time.perf_counter() - t; gc.collect()\n"
        "print(rss() - r0, dt)\n" % str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    print(f"memory: index holds {current / 1e6:.2f} MB (tracemalloc; peak while loading {peak / 1e6:.1f} MB); "
          f"fresh process: RSS +{int(out[0]) / 1024:.1f} MB, first load {float(out[1]) * 1e3:.0f} ms; {idx.counts}")


def type_script(engine: PinyinEngine, cold: bool) -> list[float]:
    times: list[float] = []
    for kind, letters, want in SCRIPT:
        if cold:
            engine.clear_cache()
            PinyinEngine._singles_cached.cache_clear()
        e = TextEntry(kind=kind, max_length=40, engine=engine)
        for ch in letters:
            t = time.perf_counter()
            e.press(ch)
            times.append(time.perf_counter() - t)
        for ch in want:  # pick the characters as a visitor would, timing each pick too
            texts = [c.text for c in e.candidates]
            target = next((i for i, t_ in enumerate(texts) if t_ == want), None)
            if target is None:
                target = next((i for i, t_ in enumerate(texts) if t_ == ch), 0)
            t = time.perf_counter()
            e.choose_global(target)
            times.append(time.perf_counter() - t)
            if not e.composition:
                break
        if not want:
            t = time.perf_counter()
            e.press("space")
            times.append(time.perf_counter() - t)
    return times


def bench_keys(rounds: int) -> None:
    engine = PinyinEngine()
    table = {f"{s}{i}": i for i, s in enumerate(sorted(engine.index.syllables) * 250)}
    probes = [letters[:i] + "0" for _k, letters, _w in SCRIPT for i in range(1, len(letters) + 1)]
    base: list[float] = []
    for _ in range(rounds):
        for p in probes:
            t = time.perf_counter()
            table.get(p)
            base.append(time.perf_counter() - t)
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(rounds):
        cold += type_script(engine, cold=True)
        type_script(engine, cold=False)  # fills the caches
        warm += type_script(engine, cold=False)
    b50, b99 = percentile(base, 0.5), percentile(base, 0.99)
    print(f"keystrokes per round: {len(cold) // rounds}, rounds: {rounds}")
    print(f"baseline dict lookup      p50 {b50 * 1e6:9.2f} us   p99 {b99 * 1e6:9.2f} us")
    for label, xs in (("keystroke, cold caches", cold), ("keystroke, warm caches", warm)):
        p50, p99 = percentile(xs, 0.5), percentile(xs, 0.99)
        print(f"{label:25s} p50 {p50 * 1e6:9.2f} us   p99 {p99 * 1e6:9.2f} us   "
              f"ratio p50 {p50 / b50:8.0f}x  p99 {p99 / b99:8.0f}x   max {max(xs) * 1e3:.2f} ms")
    print(f"(a 60 Hz frame is 16,667 us; cold p99 uses {percentile(cold, 0.99) / (1 / 60) * 100:.1f}% of one)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--load-repeats", type=int, default=7)
    args = ap.parse_args(argv)
    print(f"python {sys.version.split()[0]}, engine {pinyin.__name__}")
    bench_load(args.load_repeats)
    bench_keys(args.rounds)


if __name__ == "__main__":
    main()
