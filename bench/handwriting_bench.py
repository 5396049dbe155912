"""Handwriting (手写): accuracy over the 100 commonest surnames, and the time from a stroke's end
to its candidates.

Accuracy: the stroke medians of the 100 surname characters (tests/fixtures/strokes, from Make
Me a Hanzi), clean and with a seeded "real hand" jitter (scale 0.7-1.1, offset, rotation,
shear, per-point shake: tests/helpers/strokes.py), top-1 and top-5, with and without the
surname preference the pad applies to the first character of a name.

Latency: every stroke end of every character (the pad asks for candidates after each
stroke, so a 10-stroke character is 10 recognitions of 1..10 strokes), p50 and p99.
Baselines in the same run: the pinyin engine's candidates for one name keystroke (caches
cleared: what a visitor typing pinyin waits for) and an empty recognise call (the Python
side alone). This machine is shared and noisy: compare ratios, not milliseconds. A Pi 4 is
about 3-5x slower.

    .venv/bin/python bench/handwriting_bench.py [--seeds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.ime import handwriting  # noqa: E402
from kiosk.ime.pinyin import get_engine  # noqa: E402
from tests.helpers.strokes import jittered, model_strokes, surnames  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def accuracy(rec: handwriting.HandwritingRecognizer, prefer: frozenset[str], seeds: list[int | None]) -> tuple[float, float, str]:
    top1 = top5 = n = 0
    missed = set()
    for ch in surnames():
        for seed in seeds:
            strokes = model_strokes(ch) if seed is None else jittered(model_strokes(ch), seed * 1000 + ord(ch))
            got = [c.text for c in rec.recognize(strokes, n=10, prefer=prefer)]
            n += 1
            top1 += got[:1] == [ch]
            top5 += ch in got[:5]
            if ch not in got[:5]:
                missed.add(ch)
    return 100 * top1 / n, 100 * top5 / n, "".join(sorted(missed))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5, help="jittered hands per character")
    ap.add_argument("--rounds", type=int, default=3, help="latency rounds over the 100 characters")
    args = ap.parse_args()

    t0 = time.perf_counter()
    rec = handwriting.get_recognizer()
    if rec is None:
        sys.exit("handwriting is not available here (libzinnia0, tegaki-zinnia-simplified-chinese)")
    print(f"model open: {1000 * (time.perf_counter() - t0):.1f} ms ({rec.model})")
    engine = get_engine()
    prefer = frozenset(t for t, _r in engine.index.surnames if len(t) == 1)

    print("\naccuracy over the 100 surname characters (%)")
    print(f"{'strokes':<22}{'preference':<14}{'top-1':>7}{'top-5':>7}  not in the top 5")
    seeds = list(range(args.seeds))
    for label, s in (("clean medians", [None]), (f"jittered x{args.seeds}", seeds)):
        for plabel, p in (("none", frozenset()), ("surnames", prefer)):
            t1, t5, missed = accuracy(rec, p, s)
            print(f"{label:<22}{plabel:<14}{t1:>7.1f}{t5:>7.1f}  {missed}")

    # latency: stroke end -> candidates
    hw: list[float] = []
    empty: list[float] = []
    pinyin: list[float] = []
    names = ["zhang", "wang", "li", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou"]
    for r in range(args.rounds):
        for i, ch in enumerate(surnames()):
            strokes = jittered(model_strokes(ch), 99_000 + r * 1000 + i)
            for k in range(1, len(strokes) + 1):
                t = time.perf_counter()
                rec.recognize(strokes[:k], n=10, prefer=prefer if k == len(strokes) else frozenset())
                hw.append(time.perf_counter() - t)
                t = time.perf_counter()
                rec.recognize([], n=10)
                empty.append(time.perf_counter() - t)
            name = names[i % len(names)]
            engine.clear_cache()
            t = time.perf_counter()
            engine.candidates(name, "surname")
            pinyin.append(time.perf_counter() - t)
    p50, p99 = pct(hw, 50), pct(hw, 99)
    print(f"\nstroke end -> candidates: {len(hw)} recognitions")
    print(f"  handwriting      p50 {1000 * p50:7.2f} ms   p99 {1000 * pct(hw, 99):7.2f} ms   max {1000 * max(hw):7.2f} ms")
    print(f"  pinyin keystroke p50 {1000 * pct(pinyin, 50):7.2f} ms   p99 {1000 * pct(pinyin, 99):7.2f} ms"
          "   (baseline: a name's candidates, caches cleared)")
    print(f"  empty recognise  p50 {1000 * pct(empty, 50):7.3f} ms   p99 {1000 * pct(empty, 99):7.3f} ms")
    print(f"  ratio handwriting / pinyin keystroke: p50 {p50 / pct(pinyin, 50):.1f}x   p99 "
          f"{p99 / pct(pinyin, 99):.1f}x")
    print(f"  ratio handwriting / empty recognise:  p50 {p50 / pct(empty, 50):.0f}x")
    per_stroke = statistics.mean(len(model_strokes(ch)) for ch in surnames())
    print(f"  strokes per character (mean): {per_stroke:.1f}")


if __name__ == "__main__":
    main()
