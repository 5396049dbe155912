"""bench/fleet_bench.py runs end to end (a tiny fleet; the figures themselves are the bench's job)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from deploy_helpers import REPO


def test_fleet_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "fleet.json"
    done = subprocess.run([sys.executable, str(REPO / "bench/fleet_bench.py"), "--gateways", "6", "--procs", "2",
                           "--duration", "2", "--real-bridges", "1", "--baseline-seconds", "0.5",
                           "--alone-seconds", "1", "--json", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(out.read_text())
    assert figures["fleet"]["gateways"] == 6 and figures["real"]["gateways"] == 1
    assert figures["fleet"]["messages"] == figures["sent_fleet"] > 0  # nothing lost on the way to central
    assert figures["real"]["messages"] == figures["sent_real"] > 0
    assert figures["single_client_max_msg_s"] > 0
    assert "ratios:" in done.stdout
