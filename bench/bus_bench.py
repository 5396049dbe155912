"""Poll-cycle time of the meter bus against the wire's own minimum, measured in one run.

For each line (DL/T 645 at 2400 8E1, Modbus RTU at 9600 8N1) N simulated meters
sit on one pseudo-terminal; the real bus driver polls them cycle after cycle.
The theoretical time of a cycle is computed from the very frames that cycle
exchanged (recorded by the bus's transaction trace):

    sum over transactions of  (request + reply bytes) x bits_per_char / baud
                              + the silence required before the request
                              + the simulator's configured reply delay

The simulator keeps wire time (it paces bytes at the baud rate), so the ratio
shows what the driver adds: scheduling, parsing, Python. Target: <= 1.3.

    python bench/bus_bench.py [--meters 4] [--cycles 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from drivers.meters.bus import MeterBus, TransactionTrace  # noqa: E402
from drivers.meters.devices import Dlt645Device, ModbusDevice  # noqa: E402
from drivers.meters.serial_settings import SerialSettings  # noqa: E402
from drivers.meters.sim import SimBus, SimDlt645Meter, SimMeter, SimModbusDevice  # noqa: E402

TARGET = 1.3


@dataclass
class Row:
    line: str
    meters: int
    transactions: int
    bytes_on_wire: int
    theoretical_ms: float
    measured_ms: float
    worst_ms: float

    @property
    def ratio(self) -> float:
        return self.measured_ms / self.theoretical_ms


def run_line(name: str, settings: SerialSettings, sims: list[SimMeter], specs: list, cycles: int,
             workdir: Path) -> Row:
    traces: list[TransactionTrace] = []
    delays = {s.device_id: s.reply_delay for s in sims}
    link = workdir / name.replace(" ", "_")
    with SimBus(link, settings, sims, seed=7):
        with MeterBus(str(link), settings, trace=traces.append) as bus:
            for spec in specs:
                bus.add(spec)
            bus.read_all()  # warm-up: opens the port
            measured, theoretical, counts, volumes = [], [], [], []
            for _ in range(cycles):
                traces.clear()
                start = time.perf_counter()
                readings = bus.read_all()
                measured.append(time.perf_counter() - start)
                if not all(r.ok for r in readings):
                    bad = [r.device_id for r in readings if not r.ok]
                    raise SystemExit(f"{name}: meters failed during the benchmark: {bad}")
                wire = sum(settings.wire_time(t.tx_bytes + t.rx_bytes) for t in traces)
                theoretical.append(wire + sum(t.gap_s + delays[t.device_id] for t in traces))
                counts.append(len(traces))
                volumes.append(sum(t.tx_bytes + t.rx_bytes for t in traces))
    return Row(f"{name} {settings}", len(sims), counts[-1], volumes[-1],
               1000 * statistics.mean(theoretical), 1000 * statistics.mean(measured), 1000 * max(measured))


def dlt645_line(meters: int, cycles: int, workdir: Path) -> Row:
    settings = SerialSettings(2400, 8, "E", 1)
    sims: list[SimMeter] = []
    specs = []
    for i in range(meters):
        address = f"{i + 1:012d}"
        sims.append(SimDlt645Meter(f"elec-{i + 1}", address, power_kw=1.0 + i, reply_delay=0.02))
        specs.append(Dlt645Device(device_id=f"elec-{i + 1}", address=address,
                                  items=("energy_import", "voltage_a", "power")))
    return run_line("DL/T 645", settings, sims, specs, cycles, workdir)


def modbus_line(meters: int, cycles: int, workdir: Path) -> Row:
    settings = SerialSettings(9600, 8, "N", 1)
    sims: list[SimMeter] = []
    specs = []
    for i in range(meters):
        values = {"voltage": 230.0, "current": 4.0, "power": 900.0, "frequency": 50.0, "energy_import": 10.0 * i}
        sims.append(SimModbusDevice(f"sdm-{i + 1}", i + 1, "eastron_sdm120", values=values, reply_delay=0.005))
        specs.append(ModbusDevice(device_id=f"sdm-{i + 1}", unit=i + 1, register_map="eastron_sdm120"))
    return run_line("Modbus RTU", settings, sims, specs, cycles, workdir)


def print_table(rows: list[Row]) -> None:
    header = ("line", "meters", "frames", "bytes", "wire+gaps ms", "cycle ms", "worst ms", "ratio", "")
    lines = [header] + [
        (r.line, str(r.meters), str(2 * r.transactions), str(r.bytes_on_wire), f"{r.theoretical_ms:.1f}",
         f"{r.measured_ms:.1f}", f"{r.worst_ms:.1f}", f"{r.ratio:.3f}", "ok" if r.ratio <= TARGET else "SLOW")
        for r in rows
    ]
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    for n, row in enumerate(lines):
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print(f"\nratio = mean measured cycle / theoretical cycle of the same frames; target <= {TARGET}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meters", type=int, default=4)
    parser.add_argument("--cycles", type=int, default=3)
    ns = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bus-bench-") as tmp:
        rows = [dlt645_line(ns.meters, ns.cycles, Path(tmp)), modbus_line(ns.meters, ns.cycles, Path(tmp))]
    print_table(rows)
    return 0 if all(r.ratio <= TARGET for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
