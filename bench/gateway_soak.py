"""`lobby gateway --simulate` left running: is its memory steady?

    .venv/bin/python bench/gateway_soak.py [--minutes 10] [--config config/example.toml]

Runs the example configuration on the simulators (meters polled on their
intervals over simulated RS-485 lines, the patrol timer, buttons, health
reports every minute) against a local mosquitto, presses a button and taps a
guard card now and then, and samples the gateway's RSS, threads and open file
descriptors. The figure that matters is the growth between the first and the
last few minutes, compared with the spread of the samples in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lobby.demo.setup import write_demo_config  # noqa: E402
from tests.helpers.broker import Broker  # noqa: E402


def sample(pid: int) -> tuple[float, int, int]:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
    threads = next(int(line.split()[1]) for line in status if line.startswith("Threads:"))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, threads, fds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--config", default=str(ROOT / "config" / "example.toml"))
    args = parser.parse_args()
    from drivers.gpio.sim import GpioControlClient
    from drivers.nfc.sim.pn532_control import ControlClient
    from lobby.config import load_config

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker = Broker(work / "broker").start()
        config = write_demo_config(Path(args.config), work / "state", broker.port)
        cfg = load_config(config)
        gateway = subprocess.Popen([sys.executable, "-m", "lobby.cli", "--log-level", "WARNING", "gateway",
                                    "--config", str(config), "--simulate"], cwd=ROOT,
                                   env={**os.environ, "LOBBY_CLOCK_SYNCED": "1"})
        samples: list[tuple[float, float, int, int]] = []
        try:
            time.sleep(5)
            panel = GpioControlClient(work / "state" / "sim" / "gpio.sock") if cfg.buttons else None
            reader_cfg = next((r for r in cfg.readers if r.host == "gateway"), None)
            reader = ControlClient(work / "state" / "sim" / f"{reader_cfg.id}.sock") if reader_cfg else None
            start = time.monotonic()
            tick = 0
            while time.monotonic() - start < args.minutes * 60:
                if panel and tick % 3 == 0:
                    panel.click(cfg.buttons[tick % len(cfg.buttons)].id)
                if reader and cfg.patrol.guards and tick % 2 == 0:
                    reader.present(cfg.patrol.guards[0].card_uid, "classic_1k")
                    time.sleep(0.5)
                    reader.remove()
                rss, threads, fds = sample(gateway.pid)
                samples.append((time.monotonic() - start, rss, threads, fds))
                tick += 1
                time.sleep(10)
        finally:
            gateway.terminate()
            gateway.wait(15)
            broker.stop()
    window = max(1, len(samples) // 5)
    first = [s[1] for s in samples[:window]]
    last = [s[1] for s in samples[-window:]]
    spread = statistics.pstdev([s[1] for s in samples]) if len(samples) > 1 else 0.0
    print(f"{len(samples)} samples over {samples[-1][0] / 60:.1f} min")
    print(f"RSS first fifth {statistics.mean(first):.1f} MB, last fifth {statistics.mean(last):.1f} MB, "
          f"growth {statistics.mean(last) - statistics.mean(first):+.1f} MB "
          f"({(statistics.mean(last) / statistics.mean(first) - 1) * 100:+.1f} %), sample spread (sd) {spread:.2f} MB")
    print(f"threads {samples[0][2]} -> {samples[-1][2]}; open fds {samples[0][3]} -> {samples[-1][3]}")


if __name__ == "__main__":
    main()
