"""`lobby doctor` against the simulators: all good exits 0; each fault gives its plain-words line and exit 1."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from deploy_helpers import Site, by_check

from lobby.cli import main
from mqtt_bridge.store import Store
from tests.helpers.broker import Broker, TlsFiles
from tests.helpers.pki import CertificateAuthority


def _failed(report: dict) -> dict[str, dict]:
    return {name: c for name, c in by_check(report).items() if c["status"] == "fail"}


def test_everything_good_exits_0(site: Site) -> None:
    Store(site.state / "lobby.db").close()
    assert main(["backup", "--config", str(site.config)]) == 0
    status, report = site.doctor()
    checks = by_check(report)
    assert status == 0 and report["ok"], _failed(report)
    for name in ("config", "store", "disk", "serial rs485-1", "meter elec-lobby", "meter water-main",
                 "meter th-lobby", "nfc nfc-lobby", "printer", "clock", "fonts", "backups"):
        assert checks[name]["status"] == "ok", checks[name]
    assert "energy_import = 1234.5 kWh" in checks["meter elec-lobby"]["message"]
    assert checks["gpio"]["status"] == "warn"  # the mock pin factory is said out loud
    assert checks["broker"]["status"] == "warn" and "without TLS" in checks["broker"]["message"]
    assert checks["calendar"]["status"] in ("ok", "warn")  # warns from Q4 of the calendar's last year
    print(f"\nall-good doctor run: {report['seconds']} s")

    status, text = site.doctor_text()
    assert status == 0 and "0 failed" in text and "everything needed works" in text


def test_a_silent_meter(site: Site) -> None:
    assert site.line is not None
    site.line.set_fault("elec-lobby", "no_reply")
    status, report = site.doctor()
    failed = _failed(report)
    assert status == 1 and set(failed) == {"meter elec-lobby"}
    line = failed["meter elec-lobby"]
    assert "Meter elec-lobby" in line["message"] and "does not answer" in line["message"]
    assert "A and B" in line["fix"] and "000000001234" in line["fix"]
    assert by_check(report)["meter water-main"]["status"] == "ok"  # the line itself works


def test_the_nfc_reader_gone(site: Site) -> None:
    assert site.nfc is not None
    site.nfc.stop()  # unplugged: the device node is gone
    site.nfc = None
    status, report = site.doctor()
    failed = _failed(report)
    assert status == 1 and set(failed) == {"nfc nfc-lobby"}
    assert "is not connected" in failed["nfc nfc-lobby"]["message"]
    assert "udev rule" in failed["nfc nfc-lobby"]["fix"]


def test_the_broker_down(site: Site) -> None:
    assert site.broker is not None
    site.broker.stop()
    status, report = site.doctor()
    failed = _failed(report)
    assert status == 1 and set(failed) == {"broker"}
    assert "refused the connection" in failed["broker"]["message"]
    status, text = site.doctor_text("--only", "broker")
    assert status == 1 and "FAIL  broker" in text and "Fix: Check [mqtt] host and port" in text


def _tls_site(tmp_path: Path, trusted: bool, **broker_options: object) -> Site:
    pki = tmp_path / "pki"
    ca = CertificateAuthority.create(pki, "Company CA")
    cert, key = ca.issue(pki, "broker", server=True)
    rogue = CertificateAuthority.create(pki, "Rogue CA")
    broker = Broker(tmp_path / "tls-broker", tls=TlsFiles(ca.cert_path, cert, key), **broker_options).start()
    ca_file = ca.cert_path if trusted else rogue.cert_path
    return Site(tmp_path).start(broker, mqtt_extra=f'[mqtt.tls]\nenabled = true\nca_file = "{ca_file}"')


def test_the_wrong_ca(tmp_path: Path) -> None:
    site = _tls_site(tmp_path, trusted=False)
    try:
        status, report = site.doctor()
    finally:
        site.stop()
    failed = _failed(report)
    assert status == 1 and set(failed) == {"broker"}
    message = failed["broker"]["message"]
    assert "cannot be verified against ca_file" in message and "Rogue" in message.replace("rogue", "Rogue")
    assert "CA certificate that signed the broker's certificate" in failed["broker"]["fix"]


def test_tls_and_a_login_that_the_broker_refuses(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "gw-test", "right"], check=True, capture_output=True)
    secret = tmp_path / "mqtt-password"
    secret.write_text("wrong\n")
    site = _tls_site(tmp_path, trusted=True, password_file=passwd)
    try:
        site.write_config(mqtt_extra=f'username = "gw-test"\npassword_file = "{secret}"\n'
                                     f'[mqtt.tls]\nenabled = true\nca_file = "{tmp_path / "pki/company_ca.crt"}"')
        status, report = site.doctor("--only", "broker")
        assert status == 1 and "refused the login as gw-test" in by_check(report)["broker"]["message"]
        assert "wrong" not in report["checks"][0]["message"]  # never a secret in the output
        secret.write_text("right\n")
        status, report = site.doctor("--only", "broker")
        assert status == 0 and by_check(report)["broker"]["status"] == "ok"
        assert "TLS" in by_check(report)["broker"]["message"]
    finally:
        site.stop()


def test_an_invalid_config_names_the_key_and_checks_nothing_else(site: Site) -> None:
    site.config.write_text(site.config.read_text().replace('protocol = "dlt645"', 'protocol = "dlt999"'))
    status, report = site.doctor()
    assert status == 1 and [c["check"] for c in report["checks"]] == ["config"]
    assert "meters[0].protocol" in report["checks"][0]["message"]


def test_printer_out_of_paper_and_everything_down_stays_bounded(site: Site) -> None:
    from drivers.printer.sim import SimulatedPrinter

    assert site.broker is not None and site.line is not None and site.nfc is not None
    SimulatedPrinter(site.tmp / "printer.bin").set_state(paper="out")
    site.broker.pause()  # accepts TCP connections (the kernel does) but never answers
    for meter in ("elec-lobby", "water-main", "th-lobby"):
        site.line.set_fault(meter, "no_reply")
    site.nfc.stop()
    site.nfc = None
    started = time.monotonic()
    status, report = site.doctor()
    took = time.monotonic() - started
    site.broker.resume()
    failed = _failed(report)
    assert status == 1
    assert {"printer", "broker", "nfc nfc-lobby", "meter elec-lobby", "meter water-main", "meter th-lobby"} \
        <= set(failed)
    assert "out of paper" in failed["printer"]["message"]
    assert "never answered the login" in failed["broker"]["message"]
    print(f"\neverything down: doctor took {took:.1f} s")  # bounded by design (about 15 s), not asserted
