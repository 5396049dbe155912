"""The broker samples against a real mosquitto: the ACL, the login recipe, central.conf, the local bridge."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from deploy_helpers import SYSTEMD
from paho.mqtt.enums import CallbackAPIVersion

from tests.helpers.broker import MOSQUITTO, Broker, TlsFiles, free_port, wait_port
from tests.helpers.pki import CertificateAuthority

ACL = SYSTEMD / "mosquitto" / "acl"
ADD_LOGIN = SYSTEMD / "mosquitto" / "add-gateway-login.sh"
WAIT_S = 10.0


class Peer:
    """A paho client that records what it receives."""

    def __init__(self, port: int, username: str, password: str, v5: bool = False,
                 tls: dict[str, str] | None = None) -> None:
        self.got: "queue.SimpleQueue[tuple[str, bytes]]" = queue.SimpleQueue()
        self.seen: list[str] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{username}-{os.getpid()}-{time.monotonic_ns()}",
                                  protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
        self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(0.05, 0.1)  # loop_stop() waits out a reconnect pause
        if tls:
            self.client.tls_set(**tls)
        self.client.on_message = lambda c, u, m: self.got.put((m.topic, m.payload))
        connected: "queue.SimpleQueue[object]" = queue.SimpleQueue()
        self.client.on_connect = lambda c, u, f, rc, p: connected.put(rc)
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        rc = connected.get(timeout=WAIT_S)
        assert not rc.is_failure, f"{username}: {rc}"

    def subscribe(self, *topics: str) -> None:
        done: "queue.SimpleQueue[object]" = queue.SimpleQueue()
        self.client.on_subscribe = lambda *args: done.put(args)
        for topic in topics:
            self.client.subscribe(topic, qos=1)
            done.get(timeout=WAIT_S)

    def publish(self, topic: str, payload: bytes = b"x", retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(WAIT_S)

    def attempt(self, topic: str, payload: bytes = b"x", retain: bool = False) -> None:
        """Publish where the ACL refuses: mosquitto 2.0 drops the message and the connection."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        deadline = time.monotonic() + WAIT_S
        while self.client.is_connected() and not info.is_published() and time.monotonic() < deadline:
            time.sleep(0.01)

    def wait_for(self, topic: str) -> list[str]:
        """Collect topics until `topic` arrives; returns everything seen so far."""
        deadline = time.monotonic() + WAIT_S
        while topic not in self.seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{topic} never arrived; got {self.seen}"
            try:
                self.seen.append(self.got.get(timeout=remaining)[0])
            except queue.Empty:
                pass
        return self.seen

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _add_login(passwd: Path, gateway: str, tmp: Path) -> str:
    secret = tmp / f"{gateway}.secret"
    subprocess.run(["sh", str(ADD_LOGIN), str(passwd), gateway, str(secret)], check=True, capture_output=True)
    assert oct(secret.stat().st_mode & 0o777) == "0o600"
    return secret.read_text().strip()


def _central_login(passwd: Path, tmp: Path) -> str:
    # central systems are not gateways: the recipe refuses their names, mosquitto_passwd makes them
    entry = tmp / "central.entry"
    entry.write_text("central:central-secret\n")
    subprocess.run(["mosquitto_passwd", "-U", str(entry)], check=True, capture_output=True)
    with open(passwd, "a") as fh:
        fh.write(entry.read_text())
    return "central-secret"


@pytest.fixture
def logins(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    passwd = tmp_path / "lobby.passwd"
    secrets = {gw: _add_login(passwd, gw, tmp_path) for gw in ("gw-a", "gw-b")}
    secrets["central"] = _central_login(passwd, tmp_path)
    return passwd, secrets


def test_the_login_recipe_refuses_reserved_and_bad_names_and_replaces_an_old_entry(tmp_path: Path) -> None:
    passwd = tmp_path / "p"
    for name in ("central", "Bad Name", "gw/../x"):
        done = subprocess.run(["sh", str(ADD_LOGIN), str(passwd), name, str(tmp_path / "s")], capture_output=True)
        assert done.returncode == 65, name
    first = _add_login(passwd, "gw-a", tmp_path)
    second = _add_login(passwd, "gw-a", tmp_path)
    assert first != second and passwd.read_text().count("gw-a:") == 1
    assert first not in passwd.read_text()  # hashed, never the password itself


def test_each_gateway_is_confined_to_its_own_base_and_central_sees_and_commands_all(
        tmp_path: Path, logins: tuple[Path, dict[str, str]]) -> None:
    passwd, secret = logins
    broker = Broker(tmp_path / "b", password_file=passwd, acl_file=ACL).start()
    peers: list[Peer] = []
    try:
        central = Peer(broker.port, "central", secret["central"])
        gw_a = Peer(broker.port, "gw-a", secret["gw-a"])
        gw_b = Peer(broker.port, "gw-b", secret["gw-b"])
        shared = Peer(broker.port, "central", secret["central"], v5=True)  # MQTT 5 shared subscription
        peers += [central, gw_a, gw_b, shared]
        central.subscribe("lobby/#", "homeassistant/#")
        shared.subscribe("$share/consumers/lobby/+/+/events/+")
        gw_a.subscribe("lobby/tower-a/gw-a/cmd/+", "homeassistant/status",
                       # attempts to read what is not gw-a's: refused by the broker
                       "lobby/tower-b/gw-b/cmd/+", "lobby/+/gw-b/#", "lobby/#", "homeassistant/device/#")
        gw_b.subscribe("lobby/tower-b/gw-b/cmd/+")

        allowed = ["lobby/tower-a/gw-a/status", "lobby/tower-a/gw-a/events/meter",
                   "lobby/tower-a/gw-a/batch/meter", "lobby/tower-a/gw-a/state/meter/elec-lobby",
                   "lobby/tower-a/gw-a/alerts/meter.offline:elec-lobby", "lobby/tower-a/gw-a/cmd/ping/result",
                   "homeassistant/device/gw-a/config"]
        refused = ["lobby/tower-b/gw-b/events/meter", "lobby/tower-b/gw-b/status", "lobby/tower-b/gw-b/batch/meter",
                   "lobby/tower-b/gw-b/state/meter/elec-lobby",
                   "lobby/tower-a/gw-b/events/ticket", "homeassistant/device/gw-b/config",
                   "lobby/tower-a/gw-a/cmd/reboot",  # a gateway may not command anyone, itself included
                   "lobby/tower-a/gw-a/other", "homeassistant/status", "lobby/tower-a/central/events/x"]
        for topic in refused:
            intruder = Peer(broker.port, "gw-a", secret["gw-a"])
            intruder.attempt(topic, retain=topic.endswith(("/status", "/config")))
            intruder.close()
        for topic in allowed:
            gw_a.publish(topic, retain=topic.endswith(("/status", "/config")) or "/state/" in topic)
        gw_a.publish("lobby/tower-a/gw-a/events/sentinel")
        seen = central.wait_for("lobby/tower-a/gw-a/events/sentinel")  # delivery is in order
        assert sorted(set(seen) - {"lobby/tower-a/gw-a/events/sentinel"}) == sorted(allowed)
        assert "lobby/tower-a/gw-a/events/meter" in shared.wait_for("lobby/tower-a/gw-a/events/sentinel")

        gw_b.publish("lobby/tower-b/gw-b/events/meter")  # gw-a must not read other gateways' events
        central.publish("lobby/tower-b/gw-b/cmd/ping", b'{"id":"1"}')  # nor their commands
        central.publish("lobby/tower-a/gw-a/cmd/ping", b'{"id":"2"}')
        assert "lobby/tower-b/gw-b/cmd/ping" in gw_b.wait_for("lobby/tower-b/gw-b/cmd/ping")
        got_a = gw_a.wait_for("lobby/tower-a/gw-a/cmd/ping")
        assert got_a == ["lobby/tower-a/gw-a/cmd/ping"], got_a
        assert "lobby/tower-b/gw-b/events/meter" in central.wait_for("lobby/tower-b/gw-b/events/meter")

        # central commands, it does not speak for a gateway
        for topic, retain in (("lobby/tower-a/gw-a/status", True), ("lobby/tower-a/gw-a/events/sentinel2", False),
                              ("homeassistant/device/gw-x/config", True)):
            impostor = Peer(broker.port, "central", secret["central"])
            impostor.attempt(topic, b"spoof", retain=retain)
            impostor.close()
        gw_a.publish("lobby/tower-a/gw-a/events/sentinel3")
        seen = central.wait_for("lobby/tower-a/gw-a/events/sentinel3")
        assert "lobby/tower-a/gw-a/events/sentinel2" not in seen and "homeassistant/device/gw-x/config" not in seen
        assert seen.count("lobby/tower-a/gw-a/status") == 1
    finally:
        for peer in peers:
            peer.close()
        broker.stop()


def _pki(tmp: Path) -> dict[str, Path]:
    ca = CertificateAuthority.create(tmp / "pki", "Company CA")
    cert, key = ca.issue(tmp / "pki", "broker", server=True)
    return {"ca": ca.cert_path, "cert": cert, "key": key}


def _start_conf(text: str, workdir: Path, port: int) -> subprocess.Popen[bytes]:
    workdir.mkdir(parents=True, exist_ok=True)
    extra = [f"log_dest file {workdir / 'mosquitto.log'}"]
    if os.geteuid() == 0:
        extra.append("user root")  # started as root, mosquitto would drop to a user who cannot read tmp
    conf = workdir / "mosquitto.conf"
    conf.write_text("\n".join(extra) + "\n" + text)
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port)
    except TimeoutError:
        proc.kill()
        raise AssertionError(proc.communicate()[1].decode() + (workdir / "mosquitto.log").read_text()) from None
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_central_conf_sample_runs_with_tls_logins_and_the_acl(tmp_path: Path,
                                                             logins: tuple[Path, dict[str, str]]) -> None:
    passwd, secret = logins
    pki = _pki(tmp_path)
    tls_port, local_port = free_port(), free_port()
    text = (SYSTEMD / "mosquitto" / "central.conf").read_text()
    for old, new in (("listener 8883", f"listener {tls_port} 127.0.0.1"),
                     ("listener 1883 127.0.0.1", f"listener {local_port} 127.0.0.1"),
                     ("/etc/mosquitto/certs/ca.crt", str(pki["ca"])),
                     ("/etc/mosquitto/certs/broker.crt", str(pki["cert"])),
                     ("/etc/mosquitto/certs/broker.key", str(pki["key"])),
                     ("/etc/mosquitto/lobby.passwd", str(passwd)), ("/etc/mosquitto/lobby.acl", str(ACL)),
                     ("/var/lib/mosquitto/", f"{tmp_path}/data/")):
        assert old in text, old
        text = text.replace(old, new)
    (tmp_path / "data").mkdir()
    proc = _start_conf(text, tmp_path / "central", tls_port)
    try:
        gw = Peer(tls_port, "gw-a", secret["gw-a"], tls={"ca_certs": str(pki["ca"])})
        central = Peer(local_port, "central", secret["central"])
        central.subscribe("lobby/#")
        gw.publish("lobby/tower-a/gw-a/events/meter")
        assert "lobby/tower-a/gw-a/events/meter" in central.wait_for("lobby/tower-a/gw-a/events/meter")
        gw.close()
        central.close()
        with pytest.raises(AssertionError):
            Peer(tls_port, "gw-a", "wrong password", tls={"ca_certs": str(pki["ca"])})
    finally:
        _stop(proc)


def _local_bridge(tmp_path: Path, central_port: int, ca: Path, gateway_secret: str) -> tuple[subprocess.Popen[bytes],
                                                                                            int, str]:
    """The local-bridge sample as shipped, with this test's ports, files and logins; returns (proc, port, secret)."""
    local_port = free_port()
    local_passwd = tmp_path / "lobby-local.passwd"
    local_secret = _add_login(local_passwd, "lobby-local", tmp_path)
    acl = (SYSTEMD / "mosquitto" / "local-bridge.acl").read_text().replace("tower-a/gw-lobby-1", "tower-a/gw-a")
    acl = acl.replace("gw-lobby-1", "gw-a")
    (tmp_path / "lobby-local.acl").write_text(acl)
    text = (SYSTEMD / "mosquitto" / "local-bridge.conf").read_text()
    text = re.sub(r"^#.*\n", "", text, flags=re.M)
    for old, new in (("listener 1883 127.0.0.1", f"listener {local_port} 127.0.0.1"),
                     ("mqtt.example.com:8883", f"127.0.0.1:{central_port}"),
                     ("/etc/mosquitto/lobby-local.passwd", str(local_passwd)),
                     ("/etc/mosquitto/lobby-local.acl", str(tmp_path / "lobby-local.acl")),
                     ("/etc/lobby/ca.crt", str(ca)), ("CHANGE-ME", gateway_secret),
                     ("tower-a/gw-lobby-1", "tower-a/gw-a"), ("gw-lobby-1", "gw-a")):
        assert old in text, old
        text = text.replace(old, new)
    text += "\npersistence false\n"
    return _start_conf(text, tmp_path / "local", local_port), local_port, local_secret


def _refused(port: int, username: str | None, password: str | None) -> bool:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"intruder-{time.monotonic_ns()}")
    if username is not None:
        client.username_pw_set(username, password)
    answers: "queue.SimpleQueue[object]" = queue.SimpleQueue()
    client.on_connect = lambda c, u, f, rc, p: answers.put(rc)
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    try:
        return bool(answers.get(timeout=WAIT_S).is_failure)
    finally:
        client.disconnect()
        client.loop_stop()


def test_local_bridge_sample_carries_the_contract_both_ways(tmp_path: Path,
                                                            logins: tuple[Path, dict[str, str]]) -> None:
    passwd, secret = logins
    pki = _pki(tmp_path)
    central_broker = Broker(tmp_path / "central", password_file=passwd, acl_file=ACL,
                            tls=TlsFiles(pki["ca"], pki["cert"], pki["key"])).start()
    proc, local_port, local_secret = _local_bridge(tmp_path, central_broker.port, pki["ca"], secret["gw-a"])
    central = gateway = None
    try:
        central = Peer(central_broker.port, "central", secret["central"], tls={"ca_certs": str(pki["ca"])})
        central.subscribe("lobby/#", "homeassistant/#")
        central.wait_for("lobby/tower-a/gw-a/bridge")  # the bridge's connection state, retained
        gateway = Peer(local_port, "lobby-local", local_secret)
        gateway.subscribe("lobby/tower-a/gw-a/cmd/+")
        for topic in ("lobby/tower-a/gw-a/status", "lobby/tower-a/gw-a/events/meter",
                      "lobby/tower-a/gw-a/batch/meter", "lobby/tower-a/gw-a/state/meter/elec-lobby",
                      "homeassistant/device/gw-a/config", "lobby/tower-a/gw-a/cmd/ping/result"):
            gateway.publish(topic)
        seen = central.wait_for("lobby/tower-a/gw-a/cmd/ping/result")
        assert {"lobby/tower-a/gw-a/status", "lobby/tower-a/gw-a/events/meter", "lobby/tower-a/gw-a/batch/meter",
                "lobby/tower-a/gw-a/state/meter/elec-lobby", "homeassistant/device/gw-a/config"} <= set(seen)
        deadline = time.monotonic() + WAIT_S
        got = None
        while got is None and time.monotonic() < deadline:  # the bridge subscribes to cmd/+ a moment later
            central.publish("lobby/tower-a/gw-a/cmd/ping", b'{"id":"1"}')
            try:
                got = gateway.got.get(timeout=0.5)[0]
            except queue.Empty:
                pass
        assert got == "lobby/tower-a/gw-a/cmd/ping"
    finally:
        if gateway is not None:
            gateway.close()
        if central is not None:
            central.close()
        _stop(proc)
        central_broker.stop()


def test_a_local_user_cannot_use_the_local_broker_to_command_the_gateway(
        tmp_path: Path, logins: tuple[Path, dict[str, str]]) -> None:
    """An unprivileged shell on the Pi: no anonymous login, and even the gateway's login cannot send a command."""
    passwd, secret = logins
    pki = _pki(tmp_path)
    central_broker = Broker(tmp_path / "central", password_file=passwd, acl_file=ACL,
                            tls=TlsFiles(pki["ca"], pki["cert"], pki["key"])).start()
    proc, local_port, local_secret = _local_bridge(tmp_path, central_broker.port, pki["ca"], secret["gw-a"])
    gateway = intruder = None
    try:
        assert _refused(local_port, None, None)  # anonymous
        assert _refused(local_port, "lobby-local", "guess")  # a guessed password
        gateway = Peer(local_port, "lobby-local", local_secret)
        gateway.subscribe("lobby/tower-a/gw-a/cmd/+")
        intruder = Peer(local_port, "lobby-local", local_secret)  # even with the stolen secret ...
        intruder.attempt("lobby/tower-a/gw-a/cmd/config.update", b'{"id":"x","ts":"2026-12-06T00:00:00Z"}')
        with pytest.raises(queue.Empty):  # ... the ACL drops a command published on the local side
            gateway.got.get(timeout=1.0)
    finally:
        for peer in (gateway, intruder):
            if peer is not None:
                peer.close()
        _stop(proc)
        central_broker.stop()
