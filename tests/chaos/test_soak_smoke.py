"""A short soak (bench/soak.py) in the suite: half a minute for a whole simulated day.

The full run (24 simulated hours in 8 minutes, 2,000 visitors, 100 meters) is a bench;
this one keeps the same checks on a small day: nothing lost, no thread or file
descriptor left behind by the gateway process, the outbox drained, no personal data
after a purge past the retention period.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.chaos.report import report

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_a_short_accelerated_day_leaks_nothing(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("lobby_soak_bench", ROOT / "bench" / "soak.py")
    assert spec is not None and spec.loader is not None
    soak = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = soak  # its dataclasses look their module up
    spec.loader.exec_module(soak)
    figures = soak.run(minutes=0.5, visitors=60, meters=10, rounds=1, buttons=10, feedback=20, sample_s=2.0,
                       warmup_s=5.0, workdir=tmp_path, quiet=True)
    report("soak_smoke", figures)
    assert figures["lost"] == 0
    assert figures["check_ins"] == 60 and figures["feedback"] == 20 and figures["lobby_refused"] == 0
    assert figures["threads_end"] <= figures["threads_start"] + 1
    assert figures["fds_end"] <= figures["fds_start"] + 2
    assert figures["personal_rows_after_purge"] == 0
    assert figures["gateway_exit_code"] == 0
    assert figures["ok"], figures
