"""Making a python-escpos connection (serial, USB, network or the simulator) from plain arguments.

Connections are created closed; :class:`~drivers.printer.printer.BadgePrinter`
opens them when it first prints and reopens them after a failure.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from escpos.escpos import Escpos
from escpos.printer import Network, Serial, Usb

ConnectionKind = Literal["serial", "usb", "network", "sim"]


class PrinterConfigError(ValueError):
    """The connection arguments cannot make a printer connection."""


def serial_connection(devfile: str, *, baudrate: int = 9600, timeout: float = 1.0,
                      rtscts: bool = False, xonxoff: bool = False,
                      profile: str | None = None) -> Serial:
    """A printer on a serial port (``/dev/ttyUSB0``, ``/dev/serial0``, a udev name).

    ``rtscts=True`` selects RTS/CTS hardware flow control; otherwise DSR/DTR is
    used, as python-escpos does by default.
    """
    return Serial(devfile=devfile, baudrate=baudrate, timeout=timeout, xonxoff=xonxoff,
                  dsrdtr=not rtscts, profile=profile)


def usb_connection(vendor_id: int, product_id: int, *, in_ep: int = 0x82, out_ep: int = 0x01,
                   timeout_ms: int = 2000, profile: str | None = None) -> Usb:
    """A USB printer by vendor and product id; needs pyusb (``python-escpos[usb]``)."""
    if not Usb.is_usable():
        raise PrinterConfigError("USB printers need pyusb: pip install 'pyusb>=1.2,<2' "
                                 "and the libusb-1.0-0 system package")
    return Usb(idVendor=vendor_id, idProduct=product_id, in_ep=in_ep, out_ep=out_ep,
               timeout=timeout_ms, profile=profile)


def network_connection(host: str, *, port: int = 9100, timeout: float = 5.0,
                       profile: str | None = None) -> Network:
    """A printer on the LAN (raw TCP, usually port 9100)."""
    if not host:
        raise PrinterConfigError("network printer needs a host")
    return Network(host=host, port=port, timeout=timeout, profile=profile)


def sim_connection(path: str | os.PathLike[str], *, profile: str | None = None,
                   **kwargs: Any) -> Escpos:
    """The file-backed simulator (see :mod:`drivers.printer.sim`)."""
    from drivers.printer.sim import SimulatedPrinter

    return SimulatedPrinter(path, profile=profile, **kwargs)


_MAKERS = {"serial": serial_connection, "usb": usb_connection,
           "network": network_connection, "sim": sim_connection}


def make_connection(kind: ConnectionKind, **params: Any) -> Escpos:
    """Make a connection of *kind* from keyword arguments, e.g.
    ``make_connection("network", host="10.0.0.20")``."""
    try:
        maker = _MAKERS[kind]
    except KeyError:
        raise PrinterConfigError(f"unknown printer connection {kind!r}; "
                                 f"choose one of: {', '.join(_MAKERS)}") from None
    try:
        return maker(**params)
    except TypeError as exc:
        raise PrinterConfigError(f"bad arguments for a {kind} printer: {exc}") from None
