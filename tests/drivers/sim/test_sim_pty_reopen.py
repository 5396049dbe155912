"""A simulator's pty can be opened again and again at 8E1, as a real RS-485 adapter can.

The quirk (drivers/sim/pty.py): a pty never keeps PARENB or a CSIZE other than CS8,
and Debian's glibc reports EINVAL when a tcsetattr changes no flag while asking for a
parity the line does not have. pyserial's second open of the same pty at 8E1 used to
fail with "Invalid argument"; the endpoint now arms a harmless flag that every open
changes and re-arms it whenever a client closes the slave.
"""

from __future__ import annotations

import termios
import time
from pathlib import Path

import pytest
import serial

from drivers.meters.bus import MeterBus
from drivers.meters.devices import Dlt645Device
from drivers.meters.serial_settings import SerialSettings
from drivers.meters.sim import SimBus, SimDlt645Meter
from drivers.sim.pty import ARM_FLAG, PtyEndpoint

REOPEN_PAUSE_S = 0.02  # a client that reopens within microseconds of closing may race the re-arm once


def _open(link: Path, parity: str, bytesize: int = 8, stopbits: int = 1) -> serial.Serial:
    return serial.Serial(port=str(link), baudrate=2400, bytesize=bytesize, parity=parity, stopbits=stopbits,
                         timeout=0, exclusive=True)


def test_a_pty_never_keeps_parity_so_presetting_it_cannot_help(tmp_path: Path) -> None:
    with PtyEndpoint(tmp_path / "tty") as endpoint:
        port = _open(endpoint.link, "E")
        try:
            attrs = termios.tcgetattr(port.fileno())
            assert not attrs[2] & termios.PARENB  # the kernel dropped it silently
            assert attrs[2] & termios.CSIZE == termios.CS8
        finally:
            port.close()


@pytest.mark.parametrize(("parity", "bytesize", "stopbits"), [("E", 8, 1), ("O", 8, 1), ("E", 7, 2), ("N", 8, 1)])
def test_the_same_pty_reopens_at_any_parity(tmp_path: Path, parity: str, bytesize: int, stopbits: int) -> None:
    with PtyEndpoint(tmp_path / "tty") as endpoint:
        for _ in range(10):
            port = _open(endpoint.link, parity, bytesize, stopbits)  # raised EINVAL from the 2nd time before
            assert not termios.tcgetattr(port.fileno())[3] & ARM_FLAG  # the open cleared the arming flag
            port.close()
            time.sleep(REOPEN_PAUSE_S)


def test_the_endpoint_rearms_after_every_close(tmp_path: Path) -> None:
    with PtyEndpoint(tmp_path / "tty") as endpoint:
        port = _open(endpoint.link, "E")
        port.close()
        deadline = time.monotonic() + 2
        while not termios.tcgetattr(endpoint._slave_fd)[3] & ARM_FLAG and time.monotonic() < deadline:
            time.sleep(0.001)
        assert termios.tcgetattr(endpoint._slave_fd)[3] & ARM_FLAG


def test_meter_bus_closes_and_reopens_an_8e1_line(tmp_path: Path) -> None:
    settings = SerialSettings(115200, 8, "E", 1)
    link = tmp_path / "ttyMETERS"
    line = SimBus(link, settings, [SimDlt645Meter("m1", "000000000001", energy_kwh=42.0)], seed=1).start()
    bus = MeterBus(str(link), settings, port_retry_initial=0.05, port_retry_max=0.2)
    bus.add(Dlt645Device(device_id="m1", address="000000000001", items=("energy_import",)))
    try:
        for _ in range(5):
            reading = bus.read("m1")
            assert reading.ok, reading.health.reason
            assert reading.value("energy_import") == pytest.approx(42.0, abs=0.01)
            bus.close()  # the driver lets go of the port (as after a port error) and opens it again lazily
            time.sleep(REOPEN_PAUSE_S)
    finally:
        bus.close()
        line.stop()


def test_no_thread_or_descriptor_is_left_behind(tmp_path: Path) -> None:
    import os
    import threading

    before_fds = len(os.listdir("/proc/self/fd"))
    before_threads = threading.active_count()
    for i in range(20):
        PtyEndpoint(tmp_path / f"tty{i}").close()
    assert threading.active_count() <= before_threads  # other tests' objects may be collected meanwhile
    assert len(os.listdir("/proc/self/fd")) <= before_fds
