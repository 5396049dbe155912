"""`lobby doctor` asks each of `[time] ntp_servers` the time (SNTP, UDP 123), against local UDP responders."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lobby.config import parse_config
from lobby.doctor import clock_check
from lobby.doctor.base import Context, Status
from lobby.doctor.runner import plan
from tests.helpers.site_config import site_toml

NTP_EPOCH = 2_208_988_800


class Responder(threading.Thread):
    """A UDP server on loopback answering SNTP queries as `behaviour` says: good, silent or unsynced."""

    def __init__(self, behaviour: str, skew_s: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.behaviour = behaviour
        self.skew_s = skew_s
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self.stop_flag = threading.Event()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            try:
                query, peer = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            self.queries += 1
            if self.behaviour == "silent" or len(query) < 48:
                continue
            now = time.time() + self.skew_s
            stamp = struct.pack("!II", int(now) + NTP_EPOCH, int((now % 1) * 2**32))
            stratum = 2 if self.behaviour == "good" else 0  # 0: a "kiss of death" / not synchronised itself
            reply = bytes([(4 << 3) | 4, stratum, 6, 0xEC]) + bytes(20) + query[40:48] + stamp + stamp
            self.sock.sendto(reply, peer)

    def close(self) -> None:
        self.stop_flag.set()
        self.join(2)
        self.sock.close()


@pytest.fixture
def responder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Responder]:
    server = Responder(*request.param)
    server.start()
    monkeypatch.setattr(clock_check, "NTP_PORT", server.port)  # the real check asks port 123
    monkeypatch.setattr(clock_check, "NTP_TIMEOUT_S", 0.5)
    yield server
    server.close()


def _ctx(tmp_path: Path, servers: list[str]) -> Context:
    text = site_toml(tmp_path / "state", 1883, extra="[time]\nntp_servers = [" + ", ".join(f'"{s}"' for s in servers) + "]\n")
    return Context(parse_config(text, "t.toml"), tmp_path / "t.toml")


@pytest.mark.parametrize("responder", [("good", 2.5)], indirect=True)
def test_a_time_server_that_answers_is_ok_with_its_offset(responder: Responder, tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, ["127.0.0.1"])
    assert [c.name for c in plan(ctx.cfg, only=["clock"])] == ["clock", "clock ntp"]
    [result] = clock_check.run_ntp(ctx)
    assert result.status is Status.OK and responder.queries == 1
    assert abs(result.details["offset_s"] - 2.5) < 0.5 and result.details["stratum"] == 2
    assert "127.0.0.1 answers" in result.message


@pytest.mark.parametrize("responder", [("silent",)], indirect=True)
def test_a_server_that_does_not_answer_fails_with_the_setting_named(responder: Responder, tmp_path: Path) -> None:
    [result] = clock_check.run_ntp(_ctx(tmp_path, ["127.0.0.1"]))
    assert result.status is Status.FAIL and responder.queries == 1
    assert "[time] ntp_servers" in result.message and "no answer" in result.message
    assert "UDP port 123" in result.fix


@pytest.mark.parametrize("responder", [("unsynced",)], indirect=True)
def test_a_server_without_a_usable_time_fails(responder: Responder, tmp_path: Path) -> None:
    [result] = clock_check.run_ntp(_ctx(tmp_path, ["127.0.0.1"]))
    assert result.status is Status.FAIL and "stratum 0" in result.message


def test_no_servers_configured_means_no_ntp_check_and_bad_names_are_refused(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, [])
    assert [c.name for c in plan(ctx.cfg, only=["clock"])] == ["clock"]
    with pytest.raises(Exception, match="host name or IP address"):
        _ctx(tmp_path, ["10.0.0.1:123"])
    unknown = clock_check.run_ntp(_ctx(tmp_path, ["no-such-host.invalid"]))
    assert unknown[0].status is Status.FAIL and "cannot be found" in unknown[0].message
