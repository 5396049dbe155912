"""The kiosk's plain-Python parts (no display): `lobby pin-hash`, the PIN lockout, night dimming,
where a card tap goes."""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from lobby.services.pin import PinGate, hash_pin, verify_pin
from kiosk.timing import in_window
from lobby.config import parse_config


def run_pin_hash(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lobby.cli", "pin-hash", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_ui_pin_hash_prints_a_hash_the_config_accepts() -> None:
    out = run_pin_hash("482913\n482913\n")
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip()
    assert line.startswith('staff_pin_hash = "scrypt$') and "482913" not in out.stdout + out.stderr
    digest = line.split('"')[1]
    assert verify_pin("482913", digest) and not verify_pin("482914", digest)
    cfg = parse_config(f'version = 1\nstate_dir = "/tmp/x"\n[site]\nsite_id = "a"\ngateway_id = "b"\nname = "n"\n'
                       f'[mqtt]\nhost = "h"\n[security]\n{line}\n', "t.toml")
    assert cfg.security.staff_pin_hash == digest


def test_ui_pin_hash_refuses_mismatch_and_bad_pins() -> None:
    assert run_pin_hash("482913\n482914\n").returncode == 2
    assert run_pin_hash("12\n12\n").returncode == 2
    assert run_pin_hash("abcd\nabcd\n").returncode == 2
    assert run_pin_hash("").returncode == 2
    bare = run_pin_hash("1234\n1234\n", "--bare")
    assert bare.returncode == 0 and bare.stdout.startswith("scrypt$")


def test_ui_pin_lockout_after_wrong_pins() -> None:
    now = [1000.0]
    gate = PinGate(hash_pin("2468", salt=bytes(16)), max_attempts=3, lockout_min=5, monotonic=lambda: now[0])
    assert gate.check("1111").status == "wrong" and gate.check("1111").attempts_left == 1
    locked = gate.check("1111")
    assert locked.status == "locked" and locked.locked_min == 5
    assert gate.check("2468").status == "locked"  # even the right PIN waits
    now[0] += 5 * 60 + 1
    assert gate.check("2468").ok
    assert PinGate(None, 3, 5).check("2468").status == "unset"


def test_ui_night_dimming_window() -> None:
    t = dt.time
    assert in_window(t(23, 30), t(23, 0), t(6, 0)) and in_window(t(2, 0), t(23, 0), t(6, 0))
    assert not in_window(t(6, 0), t(23, 0), t(6, 0)) and not in_window(t(12, 0), t(23, 0), t(6, 0))
    assert in_window(t(13, 0), t(12, 0), t(14, 0)) and not in_window(t(12, 0), t(0, 0), t(0, 0))


@pytest.fixture
def router(tmp_path: Path):
    from kiosk_driver import seed, write_config

    from lobby.kiosk_runtime import KioskRuntime
    from lobby.config import load_config

    config = write_config(tmp_path / "lobby.toml", tmp_path / "state", 1883)
    seed(config)
    rt = KioskRuntime(load_config(config), config)
    yield rt
    rt.stop()


def test_ui_card_routing_order(router, caplog: pytest.LogCaptureFixture) -> None:
    from lobby.services import CheckInForm

    services = router.services
    assert router.router.route("7E11AA01", "nfc-lobby").route == "patrol"  # guard card
    assert router.router.route("04A1B2C3D4E501", "nfc-lobby").route == "patrol"  # checkpoint tag
    staff = router.router.route("5A3B9C01", "nfc-lobby")
    assert staff.route == "staff" and staff.staff_id == "staff"
    visit = services.visitors.check_in(CheckInForm(name="周杰", phone="13600007777", host_id="h-0801",
                                                   purpose="meeting", consent=True)).value
    linked = router.router.route("04A0B0C0D0E003", "nfc-lobby", link_visit_id=visit.visit_id)
    assert linked.route == "link" and linked.ok
    out = router.router.route("04A0B0C0D0E003", "nfc-lobby")
    assert out.route == "checkout" and out.ok and out.outcome.status == "checked_out"
    with caplog.at_level(logging.INFO, logger="lobby.taps"):
        unknown = router.router.route("DEADBEEF", "nfc-lobby")
    assert unknown.route == "unknown" and not unknown.ok and "对不起" in unknown.message.zh
    assert "DEADBEEF" not in caplog.text and "not recognised" in caplog.text
