"""Strokes of real characters for the handwriting tests and bench.

tests/fixtures/strokes/surnames-100.json holds the stroke medians (the centre line of each
stroke, in stroke order) of the 100 commonest Chinese surname characters, taken from the
npm package hanzi-writer-data 2.0.1 (derived from Make Me a Hanzi; Arphic Public License,
the licence text is beside the file). Coordinates there are a 1024 box, y up, with the
baseline at y = -124; `model_strokes` turns them into the recogniser's space (1000 x 1000,
y down), resampled every few units as a finger reports a stroke.

`jittered` adds what a real hand adds, seeded: the whole character scaled (0.7-1.1),
moved off centre, slightly rotated and sheared, and every point shaken by a few units.
"""

from __future__ import annotations

import json
import math
import random
from functools import lru_cache
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "strokes" / "surnames-100.json"
Stroke = list[tuple[float, float]]


@lru_cache(maxsize=1)
def _data() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def surnames() -> str:
    return _data()["characters"]


def medians(ch: str) -> list[list[list[int]]]:
    return _data()["medians"][ch]


def _resample(stroke: Stroke, step: float) -> Stroke:
    if len(stroke) < 2:
        return stroke
    out = [stroke[0]]
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
        k = max(1, int(math.hypot(x1 - x0, y1 - y0) // step))
        out.extend((x0 + (x1 - x0) * i / k, y0 + (y1 - y0) * i / k) for i in range(1, k + 1))
    return out


def model_strokes(ch: str, step: float = 12.0) -> list[Stroke]:
    """The character's medians in the model's space (1000 x 1000, y down), a point every `step` units."""
    return [_resample([(x * 1000 / 1024, (900 - y) * 1000 / 1024) for x, y in s], step) for s in medians(ch)]


def jittered(strokes: list[Stroke], seed: int, amount: float = 1.0) -> list[Stroke]:
    """A seeded "real hand" version: scale, offset, rotation, shear, per-point shake; inside the box."""
    rnd = random.Random(seed)
    scale = rnd.uniform(0.7, 1.1) if amount else 1.0
    dx, dy = rnd.uniform(-80, 80) * amount, rnd.uniform(-80, 80) * amount
    angle = math.radians(rnd.uniform(-6, 6) * amount)
    shear = rnd.uniform(-0.08, 0.08) * amount
    shake = 8.0 * amount
    cos, sin = math.cos(angle), math.sin(angle)
    out = []
    for s in strokes:
        pts = []
        for x, y in s:
            u, v = x - 500, y - 500
            u += shear * v
            u, v = u * cos - v * sin, u * sin + v * cos
            x2 = 500 + u * scale + dx + rnd.gauss(0, shake)
            y2 = 500 + v * scale + dy + rnd.gauss(0, shake)
            pts.append((min(1000.0, max(0.0, x2)), min(1000.0, max(0.0, y2))))
        out.append(pts)
    return out
