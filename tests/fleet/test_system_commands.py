"""service.restart and system.reboot: answered first, acted on once the broker has the answer.

The gateway's bridge runs in this process against a real mosquitto, through a proxy that can
hold back the broker's acknowledgements to the gateway; `systemctl` is a stand-in on PATH that
records what it was asked. With the acknowledgement of the answer held, central (connected
to the broker directly) already has the answer and nothing has run; once it is let through,
the stand-in is called.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lobby.config import load_config
from lobby.runtime import Runtime
from tests.helpers.broker import Broker
from tests.helpers.central import Central
from tests.helpers.tcpproxy import TcpProxy, _Pair

STUB = """#!/bin/sh
printf '%s %s\\n' "$(date +%s%N)" "$*" >> "{calls}"
"""


class AckHoldingProxy(TcpProxy):
    """The gateway's link to the broker, able to hold back the broker's acknowledgements.

    Armed with a topic, it passes the broker's bytes on until a PUBLISH on that topic (central's
    command) has gone through, then holds everything from the next PUBACK on, in order, until
    `release()`. Packets are read from the byte stream by their fixed header."""

    def __init__(self, target_port: int) -> None:
        super().__init__(target_port)
        self._gate = threading.Lock()
        self._topic: bytes | None = None
        self._command_seen = False
        self._holding = False
        self._pending = bytearray()  # the broker's bytes not yet passed on: a partial packet, or all while holding
        self._pending_pair: tuple[_Pair, socket.socket] | None = None

    def hold_acks_after(self, topic: str) -> None:
        with self._gate:
            self._topic, self._command_seen, self._holding = topic.encode(), False, False

    def release(self) -> None:
        with self._gate:
            self._topic, self._holding = None, False
            if self._pending and self._pending_pair is not None:
                self._send(*self._pending_pair, bytes(self._pending))
            self._pending.clear()

    def _forward(self, pair: _Pair, other: socket.socket, data: bytes) -> None:
        with self._gate:
            if other is not pair.client or self._topic is None:
                self._send(pair, other, data)
                return
            self._pending += data
            self._pending_pair = (pair, other)
            if self._holding:
                return
            passed = 0
            for start, end, kind, topic in _packets(self._pending):
                if kind == 3 and topic == self._topic:
                    self._command_seen = True
                elif kind == 4 and self._command_seen:
                    self._holding = True  # this PUBACK and everything after it waits for release()
                    break
                passed = end
            if passed:
                self._send(pair, other, bytes(self._pending[:passed]))
                del self._pending[:passed]


def _packets(buf: bytearray) -> Iterator[tuple[int, int, int, bytes]]:
    """Complete MQTT packets in `buf`: (start, end, packet type, topic of a PUBLISH)."""
    i = 0
    while i + 2 <= len(buf):
        length, multiplier, j = 0, 1, i + 1
        while True:
            if j >= len(buf):
                return
            byte = buf[j]
            length += (byte & 0x7F) * multiplier
            multiplier *= 128
            j += 1
            if not byte & 0x80:
                break
        if j + length > len(buf):
            return
        kind = buf[i] >> 4
        topic = b""
        if kind == 3 and length >= 2:
            size = int.from_bytes(buf[j:j + 2], "big")
            topic = bytes(buf[j + 2:j + 2 + size])
        yield i, j + length, kind, topic
        i = j + length


@pytest.fixture
def rig(broker: Broker, write_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[tuple[Runtime, Central, Path, AckHoldingProxy]]:  # noqa: ANN001
    bin_dir, calls = tmp_path / "bin", tmp_path / "systemctl.calls"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(STUB.format(calls=calls))
    (bin_dir / "systemctl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    proxy = AckHoldingProxy(broker.port).start()
    path = write_config(proxy.port)
    rt = Runtime(load_config(path), path)
    central = Central(broker.port, rt.cfg.base_topic)
    rt.start()
    central.wait_for(lambda: f"{rt.cfg.base_topic}/status" in central.retained, what="gateway online")
    yield rt, central, calls, proxy
    proxy.release()
    rt.stop()
    central.close()
    proxy.close()
    assert central.invalid == [], central.invalid


def _calls(calls: Path, count: int) -> list[tuple[int, str]]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        lines = calls.read_text().splitlines() if calls.exists() else []
        if len(lines) >= count:
            return [(int(line.split(" ", 1)[0]), line.split(" ", 1)[1]) for line in lines]
        time.sleep(0.02)
    raise TimeoutError(f"systemctl was not called {count} time(s)")


def _held_back_then_acted_on(rt: Runtime, central: Central, calls: Path, proxy: AckHoldingProxy,
                             name: str, data: dict[str, str], cmd_id: str) -> dict[str, object]:
    """Send a command with the broker's acknowledgement of its answer held back: central gets
    the answer (the broker has it) and nothing runs; once the acknowledgement is let through,
    it does."""
    proxy.hold_acks_after(f"{rt.cfg.base_topic}/cmd/{name}")
    answer = central.command(name, data, cmd_id=cmd_id)
    time.sleep(1.0)  # ample time for a bridge that did not wait for the acknowledgement to act
    assert not calls.exists(), calls.read_text()
    proxy.release()
    return answer


def test_service_restart_is_answered_before_systemctl_runs(rig) -> None:  # noqa: ANN001
    rt, central, calls, proxy = rig
    answer = _held_back_then_acted_on(rt, central, calls, proxy, "service.restart",
                                      {"service": "kiosk", "reason": "screen frozen"}, "rs-1")
    assert answer == {"id": "rs-1", "ok": True,
                      "result": {"service": "kiosk", "unit": "lobby-kiosk.service", "restarting": True}}
    [(_, args)] = _calls(calls, 1)
    assert args == "--no-block restart lobby-kiosk.service"
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
    rt, central, calls, proxy = rig
    answer = _held_back_then_acted_on(rt, central, calls, proxy, "system.reboot", {"reason": "kernel update"}, "rb-1")
    assert answer == {"id": "rb-1", "ok": True, "result": {"rebooting": True}}
    [(_, args)] = _calls(calls, 1)
    assert args == "reboot"
