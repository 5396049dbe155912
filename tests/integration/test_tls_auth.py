"""TLS with a client certificate, username/password logins, and a wrong CA refused."""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

import pytest

from lobby.runtime import Runtime
from tests.helpers.broker import Broker, TlsFiles
from tests.helpers.central import Central
from tests.helpers.pki import CertificateAuthority


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    ca = CertificateAuthority.create(tmp_path / "pki", "Central CA")
    server_cert, server_key = ca.issue(tmp_path / "pki", "broker", server=True)
    client_cert, client_key = ca.issue(tmp_path / "pki", "gw-test", server=False)
    rogue = CertificateAuthority.create(tmp_path / "pki", "Rogue CA")
    return {"ca": ca.cert_path, "server_cert": server_cert, "server_key": server_key,
            "client_cert": client_cert, "client_key": client_key, "rogue_ca": rogue.cert_path}


def _wait_connected(rt: Runtime, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not rt.bridge.link_up:
        time.sleep(0.05)
    assert rt.bridge.link_up, rt.bridge.status.last_error


def test_tls_with_a_client_certificate(tmp_path: Path, pki: dict[str, Path], make_config) -> None:  # noqa: ANN001
    broker = Broker(tmp_path / "b", tls=TlsFiles(pki["ca"], pki["server_cert"], pki["server_key"],
                                                   require_client_cert=True)).start()
    cfg = make_config(broker.port, mqtt_extra=(
        f'[mqtt.tls]\nenabled = true\nca_file = "{pki["ca"]}"\n'
        f'cert_file = "{pki["client_cert"]}"\nkey_file = "{pki["client_key"]}"'))
    central = Central(broker.port, cfg.base_topic, tls={"ca_certs": str(pki["ca"]), "certfile": str(pki["client_cert"]),
                                                         "keyfile": str(pki["client_key"])})
    rt = Runtime(cfg, None)
    try:
        rt.start()
        _wait_connected(rt)
        record = rt.store.emit("health", "gateway.started", {"version": "t", "config_version": 1})
        rt.bridge.wake()
        central.wait_seqs(record.seq)
    finally:
        rt.stop()
        central.close()
        broker.stop()


def test_tls_without_the_client_certificate_is_refused(tmp_path: Path, pki: dict[str, Path], make_config) -> None:  # noqa: ANN001
    broker = Broker(tmp_path / "b", tls=TlsFiles(pki["ca"], pki["server_cert"], pki["server_key"],
                                                   require_client_cert=True)).start()
    cfg = make_config(broker.port, mqtt_extra=f'[mqtt.tls]\nenabled = true\nca_file = "{pki["ca"]}"')
    rt = Runtime(cfg, None)
    try:
        rt.start()
        time.sleep(1.5)
        assert not rt.bridge.link_up
        assert rt.bridge.status.last_error
    finally:
        rt.stop()
        broker.stop()


def test_username_and_password_from_a_file(tmp_path: Path, make_config) -> None:  # noqa: ANN001
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "gw-test", "s3cret-pw"], check=True,
                   capture_output=True)
    broker = Broker(tmp_path / "b", password_file=passwd).start()
    secret = tmp_path / "mqtt-password"
    secret.write_text("s3cret-pw\n")
    cfg = make_config(broker.port, mqtt_extra=f'username = "gw-test"\npassword_file = "{secret}"')
    rt = Runtime(cfg, None)
    try:
        rt.start()
        _wait_connected(rt)
    finally:
        rt.stop()
    wrong = make_config(broker.port, mqtt_extra='username = "gw-test"\npassword = "wrong"')
    rt = Runtime(wrong, None)
    try:
        rt.start()
        time.sleep(1.5)
        assert not rt.bridge.link_up
        assert "refused" in (rt.bridge.status.last_error or "")
        assert "wrong" not in (rt.bridge.status.last_error or "")  # never echo a secret
    finally:
        rt.stop()
        broker.stop()


def test_a_wrong_ca_is_refused_with_a_clear_log_line_and_retried(tmp_path: Path, pki: dict[str, Path], make_config,
                                                                  caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    broker = Broker(tmp_path / "b", tls=TlsFiles(pki["ca"], pki["server_cert"], pki["server_key"])).start()
    cfg = make_config(broker.port, mqtt_extra=f'[mqtt.tls]\nenabled = true\nca_file = "{pki["rogue_ca"]}"')
    rt = Runtime(cfg, None)
    caplog.set_level(logging.ERROR, logger="mqtt_bridge.publisher")
    try:
        rt.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len([r for r in caplog.records if "TLS" in r.getMessage()]) < 2:
            time.sleep(0.05)
        lines = [r.getMessage() for r in caplog.records if "TLS" in r.getMessage()]
        assert len(lines) >= 2, "the connection must be retried"
        assert "does not verify against ca_file=" in lines[0] and str(pki["rogue_ca"]) in lines[0]
        assert not rt.bridge.link_up
    finally:
        rt.stop()
        broker.stop()


def test_certificate_renewed_on_disk_is_used_on_the_next_reconnect(tmp_path: Path, pki: dict[str, Path],
                                                                    make_config) -> None:  # noqa: ANN001
    broker = Broker(tmp_path / "b", tls=TlsFiles(pki["ca"], pki["server_cert"], pki["server_key"],
                                                   require_client_cert=True)).start()
    ca_file = tmp_path / "ca-in-use.crt"
    ca_file.write_bytes(pki["rogue_ca"].read_bytes())  # starts wrong ...
    cfg = make_config(broker.port, mqtt_extra=(
        f'[mqtt.tls]\nenabled = true\nca_file = "{ca_file}"\n'
        f'cert_file = "{pki["client_cert"]}"\nkey_file = "{pki["client_key"]}"'))
    rt = Runtime(cfg, None)
    try:
        rt.start()
        time.sleep(1.0)
        assert not rt.bridge.link_up
        ca_file.write_bytes(pki["ca"].read_bytes())  # ... the installer drops in the right CA
        _wait_connected(rt)
    finally:
        rt.stop()
        broker.stop()
