"""`lobby watch`: one readable line per message; duplicates and seq gaps reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.helpers.broker import Broker

ROOT = Path(__file__).resolve().parents[2]


def _envelope(seq: int, type_: str = "gateway.started") -> bytes:
    return json.dumps({"id": f"01a2142a-dabb-7120-965b-{seq:012d}", "type": type_, "seq": seq,
                       "ts": "2026-11-25T10:00:00.000Z", "clock_synced": True, "boot_id": "b-1",
                       "mono_ns": 5_000_000_000, "historical": False,
                       "data": {"version": "t", "config_version": 1}}).encode()


def _watch(config: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "lobby.cli", "watch", "--config", str(config),
                             "--seconds", str(seconds)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stderr is not None
    assert proc.stderr.readline().startswith("watching ")  # subscribed: nothing published from here on is missed
    return proc


def test_watch_prints_lines_and_reports_duplicates_and_gaps(broker: Broker, write_config) -> None:  # noqa: ANN001
    config = write_config(broker.port)
    proc = _watch(config, 4)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fake-gateway")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    base = "lobby/tower-a/gw-test"
    for seq in (1, 2, 2, 4):  # a duplicate of 2, and 3 never arrives
        client.publish(f"{base}/events/health", _envelope(seq), qos=1).wait_for_publish(5)
    client.publish(f"{base}/alerts/meter.offline:m1", json.dumps({
        "key": "meter.offline:m1", "severity": "warning", "state": "active", "acked": False, "title": "Meter offline",
        "detail": {}, "first_seen": "2026-11-25T10:00:00.000Z", "last_seen": "2026-11-25T10:00:00.000Z",
        "count": 1}).encode(), qos=1, retain=True).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert sum(1 for line in lines if "gateway.started" in line) == 4
    assert any("[duplicate]" in line for line in lines)
    assert any(line.startswith("alerts/meter.offline:m1") and "warning active" in line for line in lines)
    assert "4 events: 3 unique, 1 duplicate(s), 0 announced dropped, 1 missing (3)" in err


def test_watch_unpacks_batches_item_by_item(broker: Broker, write_config) -> None:  # noqa: ANN001
    config = write_config(broker.port)
    proc = _watch(config, 3)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fake-gateway")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    base = "lobby/tower-a/gw-test"

    def batch(*seqs: int) -> bytes:
        return b'{"items":[' + b",".join(_envelope(s, "health.report") for s in seqs) + b"]}"

    client.publish(f"{base}/batch/health", batch(1, 2, 3), qos=1).wait_for_publish(5)
    client.publish(f"{base}/batch/health", batch(3, 5), qos=1).wait_for_publish(5)  # 3 again, 4 never arrives
    client.publish(f"{base}/batch/health", b'{"items": 7}', qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert sum(1 for line in lines if "health.report" in line) == 5
    assert sum(1 for line in lines if line.startswith("batch/health") and "batch of" in line) == 2
    assert any("[duplicate #3]" in line for line in lines)
    assert any("[malformed envelope]" in line for line in lines)
    assert "5 events: 4 unique, 1 duplicate(s), 0 announced dropped, 1 missing (4)" in err
