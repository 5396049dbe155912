"""Device faults under the whole gateway: the simulators run as separate processes
and misbehave; the gateway keeps going, reports health lost, and recovers.

The gateway runs as on a Pi (not --simulate): its RS-485 line is an 8E1 pty served
by `python -m drivers.meters.sim` (a DL/T 645 and a CJ/T 188 meter), its checkpoint
reader a pty served by `python -m drivers.nfc.sim.pn532` (started by
drivers.nfc.sim.launch, as the kiosk and the simulated gateway start it). Faults: the line's port
closed and reopened (an unplugged USB adapter), garbage replies, a meter answering
for another address, and the PN532 simulator process SIGKILLed while the reader
polls. Nothing crashes: no thread dies with an exception, every component keeps
running, and each fault is reported and cleared.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.health import HealthState
from drivers.nfc.sim.launch import SimulatedReaders
from drivers.nfc.sim.pn532_control import ControlClient
from lobby.config import load_config
from lobby.gateway.assemble import build_gateway
from lobby.gateway.service import GatewayService
from tests.chaos.report import report
from tests.helpers.site_config import site_toml
from tests.helpers.broker import Broker
from tests.helpers.central import Central
from tests.helpers.gateway_rig import GUARD_CARD, ROOT

pytestmark = pytest.mark.slow

LINE_SIM = """
serial = "9600 8E1"
[[device]]
id = "elec-a"
protocol = "dlt645"
address = "000000001234"
[[device]]
id = "water-a"
protocol = "cjt188"
address = "00000000005678"
"""

DEVICES = """
[gpio]
pin_factory = "mock"

[[readers]]
id = "nfc-roof"
kind = "libnfc"
connstring = "pn532_uart:{nfc}"
host = "gateway"
checkpoint = "cp-roof"

[[buses]]
id = "rs485-1"
port = "{line}"
baudrate = 9600
parity = "E"
timeout_ms = 150
retries = 1
lost_retry_s = 0.5
lost_retry_max_s = 1

[[meters]]
id = "elec-a"
bus = "rs485-1"
protocol = "dlt645"
address = "000000001234"
interval_s = 1
offline_after_failures = 2

[[meters]]
id = "water-a"
bus = "rs485-1"
protocol = "cjt188"
address = "00000000005678"
interval_s = 1
offline_after_failures = 2

[patrol]
checkpoints = [ {{ id = "cp-roof", name = "Roof", place = "Roof plant room", reader = "nfc-roof" }} ]
guards = [ {{ id = "g-wang", name = "王保安", card_uid = "{guard}" }} ]
routes = [ {{ id = "night", name = "Night round", checkpoints = ["cp-roof"], ordered = true }} ]
"""


class LineSim:
    """`python -m drivers.meters.sim` driven through its stdin."""

    def __init__(self, link: Path, config: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "drivers.meters.sim", "--link", str(link), "--config",
                                      str(config), "--log-level", "WARNING", "--seed", "7"], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline()
        assert ready.startswith("ready"), ready

    def command(self, text: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class NfcSim:
    """The PN532 simulator as its own process (drivers.nfc.sim.launch), so it can be SIGKILLed."""

    READER = "nfc-roof"

    def __init__(self, folder: Path) -> None:
        self.readers = SimulatedReaders(folder, [self.READER])
        self.link, self.control = self.readers.link(self.READER), self.readers.socket(self.READER)

    def start(self) -> None:
        assert self.READER in self.readers.start()

    def kill(self) -> None:
        self.readers.kill(self.READER)

    def stop(self) -> None:
        self.readers.stop()


@pytest.fixture
def thread_crashes() -> Iterator[list[str]]:
    crashes: list[str] = []
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        crashes.append(f"{args.thread.name if args.thread else '?'}: {args.exc_type.__name__}: {args.exc_value}")
        previous(args)

    threading.excepthook = hook
    yield crashes
    threading.excepthook = previous


def _until(predicate: Callable[[], Any], timeout: float, what: str) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_line_and_reader_faults_are_survived_reported_and_cleared(tmp_path: Path, broker: Broker,
                                                                  thread_crashes: list[str]) -> None:
    line_link = tmp_path / "ttyRS485"
    (tmp_path / "line.toml").write_text(LINE_SIM)
    line = LineSim(line_link, tmp_path / "line.toml")
    nfc = NfcSim(tmp_path)
    nfc_link = nfc.link
    nfc.start()
    config = tmp_path / "lobby.toml"
    config.write_text(site_toml(state_dir=tmp_path / "state", port=broker.port, mqtt_extra="",
                                         discovery="false",
                                         extra=DEVICES.format(nfc=nfc_link, line=line_link, guard=GUARD_CARD)))
    cfg = load_config(config)
    central = Central(broker.port, cfg.base_topic)
    gateway: GatewayService = build_gateway(cfg, config, simulate=False)
    gateway.start()
    base = cfg.base_topic
    figures: dict[str, Any] = {}

    def health(device: str) -> HealthState | None:
        return next((d.state for d in gateway.device_health() if d.device_id == device), None)

    def readings(meter: str) -> int:
        with central.lock:
            return sum(1 for e in central.events if e["type"] == "meter.reading" and e["data"]["meter_id"] == meter
                       and any(v.get("quality") == "good" for v in e["data"]["values"].values()))

    def alert(key: str) -> dict[str, Any]:
        with central.lock:
            raw = central.retained.get(f"{base}/alerts/{key}")
        return json.loads(raw) if raw else {}

    try:
        _until(lambda: readings("elec-a") and readings("water-a"), 20, "first readings")
        _until(lambda: health("nfc-roof") is HealthState.OK, 20, "reader ok")

        # --- the line's adapter unplugged, then plugged back in
        assert line.command("port close") == "ok port closed"
        figures["port_down_lost_s"] = _until(lambda: health("elec-a") is HealthState.LOST
                                             and health("water-a") is HealthState.LOST, 20, "meters lost")
        _until(lambda: alert("meter.offline:elec-a").get("state") == "active", 20, "meter.offline raised")
        assert line.command("port open") == "ok port open"
        before = readings("elec-a"), readings("water-a")
        figures["port_up_recovery_s"] = _until(
            lambda: readings("elec-a") > before[0] and readings("water-a") > before[1], 30, "readings after port up")
        _until(lambda: alert("meter.offline:elec-a").get("state") == "cleared", 20, "meter.offline cleared")

        # --- garbage replies from one meter: the other keeps being read
        line.command("fault elec-a garbage")
        before = readings("water-a")
        figures["garbage_degraded_s"] = _until(lambda: health("elec-a") in (HealthState.DEGRADED, HealthState.LOST),
                                               20, "elec-a degraded by garbage")
        _until(lambda: readings("water-a") >= before + 2, 20, "water-a still read during garbage")
        line.command("fault elec-a none")
        before = readings("elec-a")
        figures["garbage_recovery_s"] = _until(lambda: readings("elec-a") > before, 30, "elec-a back")

        # --- a meter answering for another address: refused, never booked to the wrong meter
        line.command("fault water-a wrong_address")
        _until(lambda: health("water-a") in (HealthState.DEGRADED, HealthState.LOST), 20, "water-a degraded")
        reason = next(d.reason for d in gateway.device_health() if d.device_id == "water-a")
        assert "different meter" in reason, reason
        line.command("fault water-a none")
        before = readings("water-a")
        figures["wrong_address_recovery_s"] = _until(lambda: readings("water-a") > before, 30, "water-a back")

        # --- the PN532 simulator process killed while the reader polls, then started again
        nfc.kill()
        figures["nfc_lost_s"] = _until(lambda: health("nfc-roof") is HealthState.LOST, 20, "reader lost")
        reader = next(c for c in gateway.components if c.name == "patrol").readers[0]
        assert reader.running
        killed_at = time.monotonic()
        nfc.start()
        _until(lambda: health("nfc-roof") is HealthState.OK, 30, "reader back")
        figures["nfc_recovery_s"] = time.monotonic() - killed_at
        client = ControlClient(nfc.control)
        try:
            client.present(GUARD_CARD, "classic_1k")
            central.wait_for(lambda: central.events_of("patrol.scan"), timeout=20, what="a tap after the restart")
            client.remove()
        finally:
            client.close()

        assert gateway.alive()
        last = gateway.store.scalar("SELECT value FROM counters WHERE name = 'seq'")
        central.wait_seqs(int(last), timeout=30)
        figures.update({"events_produced": int(last), "delivered_unique": central.tracker.unique,
                        "lost": len(central.tracker.missing(int(last))), "duplicates": central.tracker.duplicates})
        meter_threads = [t for t in threading.enumerate() if "meter" in t.name.lower() or "bus" in t.name.lower()]
        figures.update({"readings_elec_a": readings("elec-a"), "readings_water_a": readings("water-a"),
                        "thread_crashes": len(thread_crashes), "meter_threads_alive": len(meter_threads)})
        report("serial_nfc_faults", figures)
        assert thread_crashes == []
        assert figures["lost"] == 0
        assert central.invalid == []
    finally:
        stopped_at = time.monotonic()
        gateway.stop()
        assert time.monotonic() - stopped_at < 15
        central.close()
        line.stop()
        nfc.stop()
