"""Chaos runs print their figures and keep them under build/reports for docs/RELIABILITY.md."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

REPORTS = Path(__file__).resolve().parents[2] / "build" / "reports"


def report(name: str, figures: dict[str, Any]) -> None:
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{name}.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    parts = ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
    print(f"\n[chaos] {name}: {parts}")


def recovery_summary(times: list[float]) -> dict[str, float]:
    if not times:
        return {"recovery_max_s": 0.0, "recovery_median_s": 0.0}
    return {"recovery_max_s": max(times), "recovery_median_s": statistics.median(times)}
