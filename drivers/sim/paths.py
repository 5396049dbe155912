"""The simulator folder: where every simulator's pty link and control socket lives.

With ``--simulate`` the gateway and the kiosk put the endpoints of their simulated
devices in one folder, ``<state_dir>/sim/``, so that other processes (the demo,
the tests, the kiosk's on-screen simulator panel) find them by name:

====================== =====================================================
``<reader-id>.tty``    a PN532 simulator's pty link (libnfc: ``pn532_uart:<link>``)
``<reader-id>.sock``   its control socket (:mod:`drivers.nfc.sim.pn532_control`)
``<bus-id>``           a simulated meter line's pty link (:mod:`drivers.meters.sim`)
``meters.sock``        the meter simulation's control socket
``gpio.sock``          the mock GPIO panel's control socket (:mod:`drivers.gpio.sim`)
``printer.escpos``     the simulated badge printer's stream (:mod:`drivers.printer.sim`)
====================== =====================================================

Reader links carry ``.tty`` so that a reader and a bus of the same id cannot
take each other's link. Every helper takes the folder (a path), never a
configuration: the drivers do not know the product's config.
"""

from __future__ import annotations

import os
from pathlib import Path

SIM_FOLDER = "sim"


def sim_dir(state_dir: str | os.PathLike[str]) -> Path:
    """The simulator folder of a state directory: ``<state_dir>/sim``."""
    return Path(state_dir) / SIM_FOLDER


def reader_link(folder: str | os.PathLike[str], reader_id: str) -> Path:
    return Path(folder) / f"{reader_id}.tty"


def reader_socket(folder: str | os.PathLike[str], reader_id: str) -> Path:
    return Path(folder) / f"{reader_id}.sock"


def bus_link(folder: str | os.PathLike[str], bus_id: str) -> Path:
    return Path(folder) / bus_id


def meters_socket(folder: str | os.PathLike[str]) -> Path:
    return Path(folder) / "meters.sock"


def gpio_socket(folder: str | os.PathLike[str]) -> Path:
    return Path(folder) / "gpio.sock"


def printer_stream(folder: str | os.PathLike[str]) -> Path:
    return Path(folder) / "printer.escpos"
