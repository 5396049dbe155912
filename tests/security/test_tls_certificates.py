"""Broker certificates the gateway must refuse, and client certificates renewed on disk.

tests/integration/test_tls_auth.py covers a wrong CA and a CA renewed on disk. Here:
an expired broker certificate and one not yet valid are refused with a clear reason
(and retried, never accepted); a broker certificate signed by another CA is refused
even when its name matches; and a client certificate renewed on disk (same paths,
the old one expired) is used at the next reconnect without a restart.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import pytest

from lobby.runtime import Runtime
from tests.helpers.broker import Broker, TlsFiles
from tests.helpers.pki import CertificateAuthority


def _wait(predicate, timeout: float = 15.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _tls(ca: Path, cert: Path | None = None, key: Path | None = None) -> str:
    extra = f'\ncert_file = "{cert}"\nkey_file = "{key}"' if cert else ""
    return f'[mqtt.tls]\nenabled = true\nca_file = "{ca}"{extra}'


@pytest.mark.parametrize(("label", "days", "not_before_days", "reason"), [
    ("expired", -1, -3, "expired"),
    ("not yet valid", 3, 1, "not yet valid"),
])
def test_a_broker_certificate_out_of_its_validity_is_refused(tmp_path: Path, make_config, label: str,  # noqa: ANN001
                                                             days: float, not_before_days: float, reason: str,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    ca = CertificateAuthority.create(tmp_path / "pki", "Central CA")
    cert, key = ca.issue(tmp_path / "pki", "broker", server=True, days=days, not_before_days=not_before_days)
    broker = Broker(tmp_path / "b", tls=TlsFiles(ca.cert_path, cert, key)).start()
    rt = Runtime(make_config(broker.port, mqtt_extra=_tls(ca.cert_path)), None)
    caplog.set_level(logging.ERROR, logger="mqtt_bridge.publisher")
    try:
        rt.start()
        assert _wait(lambda: len([r for r in caplog.records if "TLS" in r.getMessage()]) >= 2)  # refused, retried
        assert not rt.bridge.link_up
        assert reason in (rt.bridge.status.last_error or ""), rt.bridge.status.last_error
    finally:
        rt.stop()
        broker.stop()


def test_a_broker_certificate_from_another_ca_is_refused_even_with_the_right_name(tmp_path: Path,
                                                                                   make_config) -> None:  # noqa: ANN001
    ours = CertificateAuthority.create(tmp_path / "pki", "Central CA")
    theirs = CertificateAuthority.create(tmp_path / "pki", "Impostor CA")
    cert, key = theirs.issue(tmp_path / "pki", "broker", server=True)  # localhost / 127.0.0.1, valid dates
    broker = Broker(tmp_path / "b", tls=TlsFiles(theirs.cert_path, cert, key)).start()
    rt = Runtime(make_config(broker.port, mqtt_extra=_tls(ours.cert_path)), None)
    try:
        rt.start()
        assert _wait(lambda: rt.bridge.status.last_error is not None)
        time.sleep(1.0)
        assert not rt.bridge.link_up
        assert "does not verify against ca_file" in (rt.bridge.status.last_error or "")
    finally:
        rt.stop()
        broker.stop()


def test_a_client_certificate_renewed_on_disk_is_used_at_the_next_reconnect(tmp_path: Path,
                                                                             make_config) -> None:  # noqa: ANN001
    pki = tmp_path / "pki"
    ca = CertificateAuthority.create(pki, "Central CA")
    server_cert, server_key = ca.issue(pki, "broker", server=True)
    for name in ("old", "new", "rotated"):
        (pki / name).mkdir()
    old_cert, old_key = ca.issue(pki / "old", "gw-test", server=False, days=-1, not_before_days=-30)
    new_cert, new_key = ca.issue(pki / "new", "gw-test", server=False)
    in_use_cert, in_use_key = tmp_path / "client.crt", tmp_path / "client.key"
    shutil.copy(old_cert, in_use_cert)
    shutil.copy(old_key, in_use_key)
    broker = Broker(tmp_path / "b", tls=TlsFiles(ca.cert_path, server_cert, server_key,
                                                 require_client_cert=True)).start()
    rt = Runtime(make_config(broker.port, mqtt_extra=_tls(ca.cert_path, in_use_cert, in_use_key)), None)
    try:
        rt.start()
        assert _wait(lambda: rt.bridge.status.last_error is not None)
        time.sleep(1.0)
        assert not rt.bridge.link_up  # the broker refuses the expired client certificate
        # the installer (or a renewal job) replaces both files in place; no restart of the gateway
        shutil.copy(new_key, in_use_key)
        shutil.copy(new_cert, in_use_cert)
        assert _wait(lambda: rt.bridge.link_up), rt.bridge.status.last_error
        connects = rt.bridge.status.connects

        # Central rotates the CA that signs client certificates while the gateway is connected:
        # the broker now only accepts clients of the new CA, so reconnecting proves the renewed
        # file was read again (the gateway still checks the broker against the old server CA).
        client_ca = CertificateAuthority.create(pki / "rotated", "Client CA 2")
        rotated_cert, rotated_key = client_ca.issue(pki / "rotated", "gw-test", server=False)
        shutil.copy(rotated_key, in_use_key)
        shutil.copy(rotated_cert, in_use_cert)
        broker.tls = TlsFiles(client_ca.cert_path, server_cert, server_key, require_client_cert=True)
        broker.restart()
        assert _wait(lambda: rt.bridge.status.connects > connects and rt.bridge.link_up, 30), \
            rt.bridge.status.last_error
    finally:
        rt.stop()
        broker.stop()
