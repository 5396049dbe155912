"""Simulated meter lines in their own process: ``python -m drivers.meters.sim.host``.

Started by :class:`drivers.meters.sim.launch.SimulatedMeterLines` (the gateway under
``--simulate``), which writes the lines to simulate (a pickled list of
:class:`~drivers.meters.sim.simulation.SimBusSpec`) on this process's standard input.
The lines' pty links and the control socket (``meters.sock``) are made in
``--folder``; then it prints ``meter-sim ready`` and runs until SIGTERM, or until
its parent ends.
"""

from __future__ import annotations

import argparse
import logging
import pickle
import sys
from pathlib import Path

from drivers.meters.sim.simulation import MeterSimulation, SimBusSpec
from drivers.sim.child import block_stop_signals, die_with_parent, wait_for_stop
from drivers.sim.paths import meters_socket


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="simulated meter lines on pseudo-terminals")
    parser.add_argument("--folder", required=True, help="where the pty links and meters.sock go")
    parser.add_argument("--parent", type=int, metavar="PID", help="stop when this process ends")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--no-drift", action="store_true", help="values stay where they are set")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(name)s: %(message)s")

    buses: list[SimBusSpec] = pickle.load(sys.stdin.buffer)  # from the parent that started us
    block_stop_signals()  # before any thread starts
    if args.parent is not None and not die_with_parent(args.parent):
        return 0
    folder = Path(args.folder)
    sim = MeterSimulation(buses, folder, time_scale=args.time_scale, seed=args.seed, drift=not args.no_drift).start()
    try:
        sim.serve(meters_socket(folder))
        print("meter-sim ready", flush=True)
        wait_for_stop()
    except BrokenPipeError:  # the parent went before reading the ready line
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
