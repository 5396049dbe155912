"""A pushed config on probation, against a real `lobby gateway` process and mosquitto (issue #18).

The defect: a config.update that moved the broker (a dead port) was answered ok, the
gateway restarted on it and retried the dead port for good; with no link, central could
not send a fix. Now every push is kept only once the broker acknowledged the
gateway.started published on it; otherwise the previous file comes back by itself and
central hears `config.reverted` on the link that works.

The site opens [mqtt] host and port to central (security.allow_remote_broker = true) and
sets a short probation; the gateway talks TLS to the good broker. Pushed: a dead port, a
dead host (a name that never resolves), and a broker whose certificate does not verify
against the site's CA; each is reverted and reported, and a good push stays.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.broker import Broker, TlsFiles, free_port
from tests.helpers.central import Central
from tests.helpers.gateway_rig import GatewayProcess
from tests.helpers.pki import CertificateAuthority
from tests.helpers.site_config import site_toml

PROBATION_S = 6


class Rig:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        pki = tmp / "pki"
        self.ca = CertificateAuthority.create(pki, "Central CA")
        cert, key = self.ca.issue(pki, "broker", server=True)
        rogue = CertificateAuthority.create(pki, "Rogue CA")
        rogue_cert, rogue_key = rogue.issue(pki, "rogue-broker", server=True)
        self.broker = Broker(tmp / "good", tls=TlsFiles(self.ca.cert_path, cert, key)).start()
        self.rogue = Broker(tmp / "rogue", tls=TlsFiles(rogue.cert_path, rogue_cert, rogue_key)).start()
        self.config = tmp / "lobby.toml"
        self.config.write_text(self.text(1))
        self.central = Central(self.broker.port, "lobby/tower-a/gw-test", tls={"ca_certs": str(self.ca.cert_path)})
        self.gateway = GatewayProcess(self.config, tmp / "gateway.log", log_level="INFO").start()

    def text(self, version: int, *, host: str = "127.0.0.1", port: int | None = None, name: str = "Test lobby") -> str:
        body = site_toml(self.tmp / "state", port or self.broker.port, version=version, name=name,
                         mqtt_extra=f'[mqtt.tls]\nenabled = true\nca_file = "{self.ca.cert_path}"',
                         extra=f"[security]\nallow_remote_broker = true\nconfig_probation_s = {PROBATION_S}\n")
        return body.replace('host = "127.0.0.1"', f'host = "{host}"', 1)

    def started(self, config_version: int) -> list[dict]:
        return [e for e in self.central.events_of("gateway.started") if e["data"]["config_version"] == config_version]

    def push(self, version: int, text: str) -> dict:
        return self.central.command("config.update", {"version": version, "toml": text}, timeout=30)

    def log(self) -> str:
        return (self.tmp / "gateway.log").read_text(errors="replace")

    def close(self) -> None:
        self.gateway.stop()
        self.central.close()
        self.broker.stop()
        self.rogue.stop()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    try:
        r.central.wait_for(lambda: r.started(1), timeout=60, what="gateway.started on version 1")
        yield r
    finally:
        r.close()
    assert r.central.invalid == [], r.central.invalid


def _reverted(rig: Rig, version: int, timeout: float = 120) -> dict:
    rig.central.wait_for(lambda: [e for e in rig.central.events_of("config.reverted") if e["data"]["version"] == version],
                         timeout=timeout, what=f"config.reverted for version {version}\n{rig.log()[-3000:]}")
    return [e for e in rig.central.events_of("config.reverted") if e["data"]["version"] == version][-1]["data"]


@pytest.mark.parametrize("case", ["dead port", "dead host", "certificate that does not verify"])
def test_a_push_that_cuts_the_gateway_off_is_reverted_and_reported(rig: Rig, case: str) -> None:
    good = rig.config.read_text()
    if case == "dead port":
        bad = rig.text(2, port=free_port())
    elif case == "dead host":
        bad = rig.text(2, host="broker.invalid")
    else:
        bad = rig.text(2, port=rig.rogue.port)  # a broker with a certificate from another CA
    answer = rig.push(2, bad)
    assert answer["ok"] is True and answer["result"]["restarting"] is True, answer
    assert rig.central.events_of("config.applied")  # answered and applied first, as before ...

    reverted = _reverted(rig, 2)  # ... then put back, and reported on the link that works
    assert reverted["version_in_force"] == 1 and reverted["probation_s"] == PROBATION_S
    assert "did not reach the broker" in reverted["reason"] or "started" in reverted["reason"], reverted
    if case == "certificate that does not verify":
        assert "certificate" in reverted["reason"].lower(), reverted
    if case == "dead host":
        assert "broker.invalid" in reverted["reason"] or "resolve" in reverted["reason"].lower() \
            or "name" in reverted["reason"].lower(), reverted
    assert rig.config.read_text() == good
    assert rig.config.with_name("lobby.toml.rejected").read_text() == bad
    rig.central.wait_for(lambda: len(rig.started(1)) >= 2, timeout=30, what="running on version 1 again")
    assert rig.gateway.alive()
    record = json.loads(rig.config.with_name("lobby.toml.probation").read_text())
    assert record["status"] == "reverted" and [r["version"] for r in record["rejected"]] == [2]
    assert "ERROR" in rig.log() and "reverted to version 1" in rig.log()

    # A reverted version is never applied again by itself, nor when pushed again: no revert loop.
    again = rig.push(2, bad)
    assert again["ok"] is False and "was reverted on this gateway" in again["error"], again
    assert rig.config.read_text() == good
    # A newer, working version is applied and kept.
    fixed = rig.push(3, rig.text(3, name="Fixed lobby"))
    assert fixed["ok"] is True, fixed
    rig.central.wait_for(lambda: [e for e in rig.central.events_of("config.kept") if e["data"]["version"] == 3],
                         timeout=60, what="config.kept for version 3")
    assert 'name = "Fixed lobby"' in rig.config.read_text()
    assert len(rig.central.events_of("config.reverted")) == 1


def test_a_good_push_is_kept(rig: Rig) -> None:
    new = rig.text(2, name="Renamed lobby")
    assert rig.push(2, new)["ok"] is True
    rig.central.wait_for(lambda: rig.central.events_of("config.kept"), timeout=60, what="config.kept")
    assert rig.central.events_of("config.kept")[0]["data"] == {"version": 2, "previous_version": 1}
    time.sleep(PROBATION_S + 1)  # past the probation time: nothing is reverted afterwards
    assert rig.config.read_text() == new
    assert not rig.central.events_of("config.reverted")
    assert json.loads(rig.config.with_name("lobby.toml.probation").read_text())["status"] == "kept"
    assert rig.central.command("ping", {})["result"]["config_version"] == 2


def test_probation_survives_a_crash_during_the_probation(rig: Rig) -> None:
    """The gateway is killed (SIGKILL) while on probation and started again, as systemd would:
    the record on disk carries the probation on, and the push is still reverted."""
    bad = rig.text(2, port=free_port())
    assert rig.push(2, bad)["ok"] is True
    deadline = time.monotonic() + 30
    while "is on probation" not in rig.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "is on probation" in rig.log(), rig.log()[-2000:]
    rig.gateway.kill()
    rig.gateway.start()
    reverted = _reverted(rig, 2)
    assert reverted["starts"] >= 2 and reverted["version_in_force"] == 1
    rig.central.wait_for(lambda: len(rig.started(1)) >= 2, timeout=30, what="running on version 1 again")
