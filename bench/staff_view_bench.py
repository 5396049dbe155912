"""The staff view's frame time: drawing each tab's picture against drawing the home screen.

    .venv/bin/python bench/staff_view_bench.py [--frames 60] [--size 800x480]

Runs the real kiosk (`lobby kiosk --simulate`, test mode) under Xvfb with the staff-view
test's site (meters with a day of slots, a floor plan, patrol rounds, feedback: see
tests/ui/test_ui_staff_view.py), and asks it, on its UI thread, to draw and present the
whole window `--frames` times (`on_draw` + `flip`, kiosk/testing/probe.py "frame_time"):
the cost of one frame of that screen, with nothing else changing. Baseline: the same on
the home screen, same process, same run. The staff view is opened with a staff card.

Software OpenGL (llvmpipe) on a shared machine: compare the ratios, not the milliseconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "ui"))  # the UI tests import their driver by its bare name

from tests.ui.kiosk_driver import Kiosk, Xvfb, write_config  # noqa: E402
from tests.ui.test_ui_staff_view import EXTRA, KIOSK, STAFF, prepare  # noqa: E402

TABS = {"alerts": "alert_0_c1", "devices": "spark_1", "patrol": "patrol_timeline", "today": "gauge"}


def frame_ms(k: Kiosk, frames: int) -> list[float]:
    reply = k.control("frame_time", n=frames, timeout=120)
    return [s * 1000 for s in reply["samples"]]


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--size", default="800x480")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="staff-view-bench-"))
    xvfb = Xvfb(width, height).start()
    rows: dict[str, list[float]] = {}
    try:
        config = write_config(work / "lobby.toml", work / "state", 1883, extra=EXTRA, kiosk=KIOSK)
        prepare(config)
        k = Kiosk(xvfb, config, work, lang="zh").start()
        try:
            k.wait_screen("home")
            frame_ms(k, 10)  # warm: textures, glyphs
            rows["home (baseline)"] = frame_ms(k, args.frames)
            k.tap_card(STAFF)
            k.wait_screen("staff")
            for tab, widget in TABS.items():
                if tab != "alerts":
                    k.click(f"tab_{tab}")
                k.wait(lambda m, w=widget: w in m["widgets"], 30, f"the {tab} tab drawn")
                frame_ms(k, 10)
                rows[f"staff: {tab}"] = frame_ms(k, args.frames)
        finally:
            k.stop()
    finally:
        xvfb.stop()
        shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(rows["home (baseline)"])
    print(f"staff view frame time ({args.frames} frames each, {args.size}, software OpenGL)")
    print(f"{'screen':<20} {'p50 ms':>8} {'p99 ms':>8} {'p50 / home':>11}")
    summary = {}
    for name, samples in rows.items():
        p50 = statistics.median(samples)
        print(f"{name:<20} {p50:8.2f} {p99(samples):8.2f} {p50 / base:11.2f}")
        summary[name] = {"p50_ms": round(p50, 2), "p99_ms": round(p99(samples), 2), "x_home": round(p50 / base, 2)}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
