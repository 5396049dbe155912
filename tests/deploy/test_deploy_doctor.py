"""`lobby doctor` against the simulators: all good exits 0; each fault gives its plain-words line and exit 1."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

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


def test_an_invalid_config_names_the_meter_and_still_checks_the_rest(site: Site) -> None:
    """Issue #18: an invalid config used to stop the doctor: disk, clock and store went unchecked."""
    Store(site.state / "lobby.db").close()
    site.config.write_text(site.config.read_text().replace('protocol = "dlt645"', 'protocol = "dlt999"'))
    line = site.config.read_text().splitlines().index('protocol = "dlt999"') + 1
    status, report = site.doctor()
    checks = by_check(report)
    assert status == 1 and checks["config"]["status"] == "fail"
    message = checks["config"]["message"]
    assert "meters[0].protocol" in message and f'line {line}, meter "elec-lobby"' in message, message
    for name in ("store", "disk", "clock", "broker", "printer", "nfc nfc-lobby"):
        assert name in checks, sorted(checks)  # what does not depend on the meters is still checked
    assert checks["store"]["status"] == "ok" and checks["disk"]["status"] == "ok"
    assert checks["serial"]["status"] == "skip" and "buses, meters" in checks["serial"]["message"]
    assert "[meters]" in checks["config"]["fix"]
    status, text = site.doctor_text()
    assert status == 1 and "everything needed works" not in text


def test_an_unreadable_config_still_checks_disk_clock_and_store(site: Site) -> None:
    site.config.write_text("version = 1\n[mqtt\n")  # not TOML at all
    status, report = site.doctor()
    checks = by_check(report)
    assert status == 1 and checks["config"]["status"] == "fail" and "not valid TOML" in checks["config"]["message"]
    assert {"disk", "clock"} <= set(checks) and checks["disk"]["status"] == "ok"
    assert checks["broker"]["status"] == "skip"  # no broker address could be read: none is guessed


def _services_running(monkeypatch: pytest.MonkeyPatch) -> None:
    import lobby.doctor.base

    monkeypatch.setattr(lobby.doctor.base, "_service_active", lambda unit: True)


def test_a_missing_serial_port_is_not_in_use_while_the_services_run(site: Site,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #18: with the services running, a port that does not exist was 'skip ... has this device open'."""
    _services_running(monkeypatch)
    site.config.write_text(site.config.read_text().replace("ttyMETERS", "ttyMETRES"))
    status, report = site.doctor()
    serial = by_check(report)["serial rs485-1"]
    assert status == 1 and serial["status"] == "fail", serial
    assert "ttyMETRES" in serial["message"] and "is missing" in serial["message"]
    status, text = site.doctor_text()
    assert status == 1 and "everything needed works" not in text


def test_an_existing_port_is_left_alone_while_the_services_run(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    _services_running(monkeypatch)
    status, report = site.doctor("--only", "serial,nfc")
    checks = by_check(report)
    assert checks["serial rs485-1"]["status"] == "skip" and "is there but was not opened" in \
        checks["serial rs485-1"]["message"]
    assert checks["nfc nfc-lobby"]["status"] == "skip" and "is there" in checks["nfc nfc-lobby"]["message"]


def test_a_mistyped_port_suggests_the_port_that_exists(site: Site) -> None:
    """Issue #18: the fix suggested a udev rule named after the typo and never named the real port."""
    site.config.write_text(site.config.read_text().replace("ttyMETERS", "ttyMETRES"))
    status, report = site.doctor("--only", "serial")
    serial = by_check(report)["serial rs485-1"]
    real = str(site.tmp / "ttyMETERS")
    assert status == 1 and serial["status"] == "fail"
    assert real in serial["message"] and f"Did you mean {real}?" in serial["fix"]
    assert "udev" not in serial["fix"] and "ttyMETRES" not in serial["fix"].replace(real, "")


def test_a_missing_nfc_port_is_not_in_use_and_names_the_real_one(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    _services_running(monkeypatch)
    site.config.write_text(site.config.read_text().replace("pn532\"", "pn352\""))
    status, report = site.doctor("--only", "nfc")
    nfc = by_check(report)["nfc nfc-lobby"]
    assert status == 1 and nfc["status"] == "fail" and "is not connected" in nfc["message"], nfc
    assert f"Did you mean {site.tmp / 'pn532'}?" in nfc["fix"]


def test_a_missing_tls_file_names_the_key_and_the_path(site: Site) -> None:
    """Issue #18: the gateway logged 'a TLS or password file is missing: None'."""
    from lobby.config import load_config
    from mqtt_bridge.mqtt_client import build_client, explain_connect_error
    from mqtt_bridge.publisher import topics_for

    missing = site.tmp / "etc-lobby" / "ca.crt"
    site.write_config(mqtt_extra=f'[mqtt.tls]\nenabled = true\nca_file = "{missing}"')
    bridge = load_config(site.config).bridge
    with pytest.raises(FileNotFoundError) as info:
        build_client(bridge, topics_for(bridge))
    explained = explain_connect_error(info.value, bridge)
    assert explained == f"mqtt.tls.ca_file: {missing} does not exist", explained
    status, report = site.doctor("--only", "broker")
    assert status == 1 and str(missing) in by_check(report)["broker"]["message"]


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
