"""An accelerated day in the lobby against a real gateway process, watching it for leaks.

    python bench/soak.py                   # 24 simulated hours in 8 real minutes (x180)
    python bench/soak.py --minutes 1 --visitors 100 --meters 10 --rounds 2 --buttons 20 --feedback 30

What runs: a local mosquitto; `lobby gateway --simulate` as its own process with
`--meters` meters on ten simulated RS-485 lines (DL/T 645 and Modbus, polled every
second: the config's minimum), two patrol checkpoint readers (PN532 simulators) and
the GPIO panel; central as a persistent subscriber counting every seq. This process
plays the kiosk: `--visitors` check-ins (and their check-outs) and `--feedback`
feedback presses through the lobby services on a clock running `--minutes` real
minutes for 24 simulated hours; `--buttons` presses on the panel; `--rounds` patrol
rounds of two checkpoints by a guard's card.

Every `--sample-s` seconds the gateway process is measured: RSS, threads, open file
descriptors, and the store's size (database + WAL). The figures that matter: threads
and descriptors at the end equal those after warm-up (nothing leaks), RSS levels off,
the outbox is empty once central has everything (no seq lost), and after a purge at
a "now" past the visitor retention the store holds no personal data rows. The run
prints its figures and writes build/reports/soak.json (docs/RELIABILITY.md).

With --simulate the meter and reader simulators live inside the gateway process, so
its thread count includes theirs (constant for a given configuration).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LOBBY_CLOCK_SYNCED", "1")

from mqtt_bridge.clock import Clock, Instant  # noqa: E402
from mqtt_bridge.timebase import BOOT_ID, monotonic_ns  # noqa: E402

DAY_S = 86400
GUARD = "7E11AA01"


class ScaledClock(Clock):
    """A day that passes `scale` times faster than real time, wall and monotonic together."""

    def __init__(self, start: dt.datetime, scale: float) -> None:
        self.start = start.astimezone(dt.timezone.utc)
        self.scale = scale
        self.t0 = time.monotonic()
        self.mono0 = monotonic_ns()

    def sim_s(self) -> float:
        return (time.monotonic() - self.t0) * self.scale

    def instant(self) -> Instant:
        elapsed = self.sim_s()
        return Instant(self.start + dt.timedelta(seconds=elapsed), BOOT_ID, self.mono0 + int(elapsed * 1e9), True)


def soak_config(state: Path, port: int, meters: int, buses: int = 10) -> str:
    from tests.helpers.site_config import STAFF_CARD, gpio_panel, site_toml, staff_cards

    lines = [site_toml(state, port, gateway_id="gw-soak", keepalive_s=10, inflight=50,
                       extra="[alerts]\nhealth_interval_s = 10\n" + staff_cards(STAFF_CARD)
                       + gpio_panel(repeat_window_s=60)) + f"""[[readers]]
id = "nfc-roof"
kind = "libnfc"
connstring = "pn532_uart:/dev/null-roof"
host = "gateway"
checkpoint = "cp-roof"
[[readers]]
id = "nfc-b1"
kind = "libnfc"
connstring = "pn532_uart:/dev/null-b1"
host = "gateway"
checkpoint = "cp-b1"
[patrol]
checkpoints = [
  {{ id = "cp-roof", name = "Roof", place = "Roof plant room", reader = "nfc-roof" }},
  {{ id = "cp-b1", name = "B1", place = "B1 Car park", reader = "nfc-b1" }},
]
guards = [ {{ id = "g-wang", name = "王保安", card_uid = "{GUARD}" }} ]
routes = [ {{ id = "night", name = "Round", checkpoints = ["cp-roof", "cp-b1"], ordered = true }} ]
"""]
    from tests.helpers.gateway_rig import many_meters

    lines.append(many_meters(meters, buses, interval_s=1))
    return "\n".join(lines)


@dataclass
class Sample:
    t: float
    rss_kb: int
    threads: int
    fds: int
    store_bytes: int
    outbox_rows: int


def _proc(pid: int) -> tuple[int, int, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
    threads = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))
    return rss, threads, len(os.listdir(f"/proc/{pid}/fd"))


def _store_bytes(db: Path, suffix: str = "*") -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + suffix) if p.is_file())


def run(minutes: float = 8.0, visitors: int = 2000, meters: int = 100, rounds: int = 12, buttons: int = 300,
        feedback: int = 500, sample_s: float = 3.0, warmup_s: float = 20.0, workdir: Path | None = None,
        seed: int = 1, quiet: bool = False) -> dict[str, Any]:
    import tempfile

    from drivers.gpio.sim import GpioControlClient
    from drivers.nfc.sim.pn532_control import ControlClient
    from lobby.services import CheckInForm, LobbyServices
    from lobby.cardhash import load_key
    from lobby.config import load_config
    from mqtt_bridge.store import Store
    from tests.helpers.broker import Broker
    from tests.helpers.central import Central
    from tests.helpers.gateway_rig import GatewayProcess, wait_path
    from tests.helpers.lobby_load import seed_directory

    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    work = Path(workdir or tempfile.mkdtemp(prefix="lobby-soak-"))
    state = work / "state"
    broker = Broker(work / "broker").start()
    config = work / "lobby.toml"
    config.write_text(soak_config(state, broker.port, meters))
    cfg = load_config(config)
    db = Path(cfg.state_dir) / cfg.store.path
    central = Central(broker.port, cfg.base_topic, client_id="central-soak", validate=False)
    gateway = GatewayProcess(config, work / "gateway.log").start()
    rng = random.Random(seed)
    samples: list[Sample] = []
    stop = threading.Event()
    done: dict[str, int] = {"check_ins": 0, "check_outs": 0, "feedback": 0, "buttons": 0, "taps": 0,
                            "lobby_refused": 0, "socket_errors": 0}
    store: Store | None = None
    try:
        if not wait_path(state / "sim" / "gpio.sock", 60, gateway):
            raise RuntimeError("the gateway did not start: " + (work / "gateway.log").read_text()[-2000:])
        store = Store(db, busy_timeout_ms=30_000)
        seed_directory(store)

        def sample() -> Sample:
            rss, threads, fds = _proc(gateway.pid)
            rows = store.scalar("SELECT count(*) FROM outbox") if store else 0
            return Sample(time.monotonic(), rss, threads, fds, _store_bytes(db), int(rows or 0))

        def sampler() -> None:
            while not stop.wait(sample_s):
                try:
                    samples.append(sample())
                except (OSError, StopIteration):
                    return

        panel = GpioControlClient(state / "sim" / "gpio.sock", timeout_s=10)
        readers = {r: ControlClient(state / "sim" / f"{r}.sock", timeout_s=10) for r in ("nfc-roof", "nfc-b1")}

        def tap(reader: str) -> None:
            readers[reader].present(GUARD, "classic_1k")
            time.sleep(0.6)
            readers[reader].remove()
            done["taps"] += 1

        say(f"warming up {warmup_s:.0f} s ...")
        # reach the steady state first: control connections open, an LED blinking for a ticket, a round done
        panel.click("btn-toilet")
        tap("nfc-roof")
        tap("nfc-b1")
        done["taps"] = 0
        time.sleep(warmup_s)
        start_sample = sample()
        samples.append(start_sample)
        threading.Thread(target=sampler, daemon=True, name="sampler").start()

        day_real_s = minutes * 60
        scale = DAY_S / day_real_s
        tz = dt.timezone(dt.timedelta(hours=8))
        midnight = dt.datetime.combine(dt.datetime.now(tz).date(), dt.time(0), tz)
        clock = ScaledClock(midnight, scale)
        services = LobbyServices(store, cfg, card_key=load_key(cfg.state_dir), clock=clock)

        def at(lo_h: float, hi_h: float) -> float:
            return rng.uniform(lo_h, hi_h) * 3600

        plan: list[tuple[float, str, Any]] = []
        for n in range(visitors):
            t_in = at(7, 19)
            plan.append((t_in, "check_in", n))
            plan.append((min(t_in + rng.uniform(300, 4 * 3600), DAY_S - 60), "check_out", n))
        plan += [(at(8, 20), "feedback", None) for _ in range(feedback)]
        plan += [(at(0, 24), "button", None) for _ in range(buttons)]
        plan += [((k + 0.5) * DAY_S / max(rounds, 1), "round", k) for k in range(rounds)]
        plan.sort(key=lambda item: item[0])
        visits: dict[int, str] = {}

        def rounds_worker(items: list[tuple[float, str, Any]]) -> None:
            for t_sim, _, _ in items:
                delay = t_sim / scale - (time.monotonic() - clock.t0)
                if stop.wait(max(0.0, delay)):
                    return
                try:
                    tap("nfc-roof")
                    time.sleep(1.5)
                    tap("nfc-b1")
                except (OSError, RuntimeError):
                    done["socket_errors"] += 1

        def buttons_worker(items: list[tuple[float, str, Any]]) -> None:
            for t_sim, _, _ in items:
                delay = t_sim / scale - (time.monotonic() - clock.t0)
                if stop.wait(max(0.0, delay)):
                    return
                try:
                    panel.click(rng.choice(["btn-toilet", "face-happy"]))
                    done["buttons"] += 1
                except (OSError, RuntimeError):
                    done["socket_errors"] += 1

        workers = [threading.Thread(target=rounds_worker, args=([p for p in plan if p[1] == "round"],), daemon=True),
                   threading.Thread(target=buttons_worker, args=([p for p in plan if p[1] == "button"],), daemon=True)]
        for w in workers:
            w.start()
        say(f"playing a day: x{scale:.0f}, {len(plan)} scheduled actions over {day_real_s:.0f} s")
        last_report = time.monotonic()
        for t_sim, kind, n in [p for p in plan if p[1] in ("check_in", "check_out", "feedback")]:
            delay = t_sim / scale - (time.monotonic() - clock.t0)
            if delay > 0:
                time.sleep(delay)
            if kind == "check_in":
                outcome = services.visitors.check_in(CheckInForm(
                    name=f"访客{chr(0x4E00 + n % 20000)}{chr(0x4E00 + (n * 7) % 20000)}", phone=f"139{n:08d}",
                    host_id="h-1203", purpose="meeting", party_size=1 + n % 3, consent=True))
                if outcome.ok and outcome.value is not None:
                    visits[n] = outcome.value.visit_id
                    done["check_ins"] += 1
                else:
                    done["lobby_refused"] += 1
            elif kind == "check_out" and n in visits:
                done["check_outs"] += services.visitors.check_out(visits[n], "pass").ok
            elif kind == "feedback":
                ok = services.feedback.press(rng.choice(["very_unhappy", "unhappy", "happy", "very_happy"])).ok
                done["feedback"] += ok
                done["lobby_refused"] += not ok
            if time.monotonic() - last_report > 30:
                last_report = time.monotonic()
                s = samples[-1]
                say(f"  sim {clock.sim_s() / 3600:5.1f} h: {done} rss={s.rss_kb // 1024} MB threads={s.threads} "
                    f"fds={s.fds} store={s.store_bytes // 1024} KB outbox={s.outbox_rows}")
        for w in workers:
            w.join(timeout=day_real_s)
        remaining = day_real_s - (time.monotonic() - clock.t0)
        if remaining > 0:
            time.sleep(remaining)
        day_end = time.monotonic()
        last = store.scalar("SELECT value FROM counters WHERE name = 'seq'")
        say("day over: waiting for central to have every event ...")
        central.wait_seqs(int(last), timeout=300)
        drained_s = time.monotonic() - day_end
        time.sleep(sample_s * 2)
        end_sample = sample()
        samples.append(end_sample)
        stop.set()
        # retention: a purge at a "now" past visitor retention leaves no personal fields
        later = clock.instant()
        later = Instant(later.wall + dt.timedelta(days=cfg.privacy.visitor_retention_days + 1), later.boot_id,
                        later.mono_ns, True)
        before_purge = _store_bytes(db)
        purged = services.privacy.purge(later)
        personal_left = store.scalar("SELECT count(*) FROM visits WHERE name IS NOT NULL OR phone IS NOT NULL")
        panel.close()
        for r in readers.values():
            r.close()
        rc = gateway.stop()
        half = [s for s in samples if s.t >= start_sample.t + (end_sample.t - start_sample.t) / 2]
        rss_half_growth = (half[-1].rss_kb - half[0].rss_kb) / 1024 if len(half) > 1 else 0.0
        figures: dict[str, Any] = {
            "real_minutes": minutes, "time_scale": round(scale, 1), "meters": meters, **done,
            "patrol_rounds": rounds, "events_produced": int(last), "delivered_unique": central.tracker.unique,
            "lost": len(central.tracker.missing(int(last))), "duplicates": central.tracker.duplicates,
            "meter_readings": sum(1 for e in central.events if e["type"] == "meter.reading"),
            "drain_after_day_s": round(drained_s, 1),
            "rss_mb_start": round(start_sample.rss_kb / 1024, 1), "rss_mb_end": round(end_sample.rss_kb / 1024, 1),
            "rss_mb_max": round(max(s.rss_kb for s in samples) / 1024, 1),
            "rss_mb_growth_second_half": round(rss_half_growth, 1),
            "threads_start": start_sample.threads, "threads_end": end_sample.threads,
            "threads_max": max(s.threads for s in samples),
            "fds_start": start_sample.fds, "fds_end": end_sample.fds, "fds_max": max(s.fds for s in samples),
            "store_kb_start": start_sample.store_bytes // 1024, "store_kb_end": end_sample.store_bytes // 1024,
            "store_kb_max": max(s.store_bytes for s in samples) // 1024,
            "db_file_kb_end": _store_bytes(db, "") // 1024, "wal_kb_end": _store_bytes(db, "-wal") // 1024,
            "outbox_rows_max": max(s.outbox_rows for s in samples), "outbox_rows_end": end_sample.outbox_rows,
            "store_kb_before_purge": before_purge // 1024, "purged_visits": purged.visits_anonymised,
            "personal_rows_after_purge": personal_left, "samples": len(samples),
            "gateway_exit_code": rc,
        }
        figures["ok"] = bool(figures["lost"] == 0 and figures["fds_end"] <= figures["fds_start"] + 2
                             and figures["threads_end"] <= figures["threads_start"] + 1
                             and figures["outbox_rows_end"] <= 2 * meters + 50 and personal_left == 0 and rc == 0)
        return figures
    finally:
        stop.set()
        if store is not None:
            store.close()
        gateway.kill()
        central.close()
        broker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=8.0, help="real minutes for the 24 simulated hours")
    parser.add_argument("--visitors", type=int, default=2000)
    parser.add_argument("--meters", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--buttons", type=int, default=300)
    parser.add_argument("--feedback", type=int, default=500)
    parser.add_argument("--sample-s", type=float, default=3.0)
    parser.add_argument("--warmup-s", type=float, default=20.0)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    figures = run(args.minutes, args.visitors, args.meters, args.rounds, args.buttons, args.feedback, args.sample_s,
                  args.warmup_s, args.workdir)
    reports = ROOT / "build" / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "soak.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
