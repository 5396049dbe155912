"""service.restart and system.reboot: answered first, acted on once the broker has the answer.

The gateway's bridge runs in this process against a real mosquitto; `systemctl` is a
stand-in on PATH that records when it ran and with what. Central's subscriber records
when the answer arrived: the answer must be there before the stand-in is called.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lobby.config import load_config
from lobby.runtime import Runtime
from tests.helpers.broker import Broker
from tests.helpers.central import Central

STUB = """#!/bin/sh
printf '%s %s\\n' "$(date +%s%N)" "$*" >> "{calls}"
"""


@pytest.fixture
def rig(broker: Broker, write_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[tuple[Runtime, Central, Path, dict[str, int]]]:  # noqa: ANN001
    bin_dir, calls = tmp_path / "bin", tmp_path / "systemctl.calls"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(STUB.format(calls=calls))
    (bin_dir / "systemctl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    path = write_config(broker.port)
    rt = Runtime(load_config(path), path)
    central = Central(broker.port, rt.cfg.base_topic)
    seen: dict[str, int] = {}
    receive = central.client.on_message

    def stamped(client: Any, userdata: Any, msg: Any) -> None:
        if msg.topic.endswith("/result"):
            seen.setdefault(json.loads(msg.payload)["id"], time.time_ns())
        receive(client, userdata, msg)

    central.client.on_message = stamped
    rt.start()
    central.wait_for(lambda: f"{rt.cfg.base_topic}/status" in central.retained, what="gateway online")
    yield rt, central, calls, seen
    rt.stop()
    central.close()
    assert central.invalid == [], central.invalid


def _calls(calls: Path, count: int) -> list[tuple[int, str]]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        lines = calls.read_text().splitlines() if calls.exists() else []
        if len(lines) >= count:
            return [(int(line.split(" ", 1)[0]), line.split(" ", 1)[1]) for line in lines]
        time.sleep(0.02)
    raise TimeoutError(f"systemctl was not called {count} time(s)")


def test_service_restart_is_answered_before_systemctl_runs(rig) -> None:  # noqa: ANN001
    rt, central, calls, seen = rig
    answer = central.command("service.restart", {"service": "kiosk", "reason": "screen frozen"}, cmd_id="rs-1")
    assert answer == {"id": "rs-1", "ok": True,
                      "result": {"service": "kiosk", "unit": "lobby-kiosk.service", "restarting": True}}
    [(called_ns, args)] = _calls(calls, 1)
    assert args == "--no-block restart lobby-kiosk.service"
    assert seen["rs-1"] < called_ns  # central had the answer before the restart began
    # the same id again: answered from the log, not acted on again
    assert central.command("service.restart", {"service": "kiosk"}, cmd_id="rs-1") == answer
    assert central.command("service.restart", {"service": "gateway"}, cmd_id="rs-2")["ok"] is True
    assert [a for _, a in _calls(calls, 2)] == ["--no-block restart lobby-kiosk.service",
                                                "--no-block restart lobby-gateway.service"]


def test_unknown_services_are_refused_and_nothing_runs(rig) -> None:  # noqa: ANN001
    rt, central, calls, _ = rig
    refused = central.command("service.restart", {"service": "ssh"}, cmd_id="rs-x")
    assert refused == {"id": "rs-x", "ok": False,
                       "error": "unknown service 'ssh': only gateway, kiosk can be restarted"}
    bad = central.command("service.restart", {"service": "../../etc"}, cmd_id="rs-y")
    assert bad["ok"] is False and bad["error"].startswith("invalid data: service:")
    assert central.command("ping", {})["ok"] is True  # the bridge is still answering: all handled
    assert not calls.exists()


def test_system_reboot_is_answered_before_systemctl_reboot(rig) -> None:  # noqa: ANN001
    rt, central, calls, seen = rig
    answer = central.command("system.reboot", {"reason": "kernel update"}, cmd_id="rb-1")
    assert answer == {"id": "rb-1", "ok": True, "result": {"rebooting": True}}
    [(called_ns, args)] = _calls(calls, 1)
    assert args == "reboot" and seen["rb-1"] < called_ns
