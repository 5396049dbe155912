"""Each NFC reader: its device is there and libnfc can open it (the real driver, drivers.nfc)."""

from __future__ import annotations

import os

from lobby.config import Config
from lobby.config.model import NfcReaderConfig
from lobby.doctor.base import Check, Context, Result, fail, ok, skip

OPEN_LIMIT_S = 5.0


def checks(cfg: Config) -> list[Check]:
    return [Check(f"nfc {reader.id}", _runner(reader), timeout_s=OPEN_LIMIT_S + 1,
                  timeout_message=f"The NFC reader {reader.id} did not answer within {OPEN_LIMIT_S + 1:.0f} s "
                                  f"({reader.connstring or reader.device}).",
                  timeout_fix="Unplug and re-plug the reader; with the services stopped, `nfc-list -v` shows "
                              "what libnfc sees.")
            for reader in cfg.readers]


def _runner(reader: NfcReaderConfig):  # noqa: ANN202 - a check function
    return lambda ctx: check_reader(ctx, reader)


def check_reader(ctx: Context, reader: NfcReaderConfig) -> list[Result]:
    name = f"nfc {reader.id}"
    # Whether the device node is there is looked up without opening it, so it is checked even
    # while a service holds the reader: a reader that is not there is never "in use".
    blocked = ctx.device_probe_blocked(reader.host)
    if reader.kind == "hid":
        return [_hid(name, reader)]  # looks at the device node only, never opens it
    from drivers.nfc.libnfc_reader import device_path

    connstring = reader.connstring or ""
    path = device_path(connstring)
    if path is not None:
        if not os.path.exists(path):
            return [_missing(name, reader, path, connstring)]
        if not os.access(path, os.R_OK | os.W_OK):
            return [fail(name, f"This user may not open the NFC reader's port {path}.",
                         "The services run as lobby, which is in group dialout; run `lobby doctor` as root or as "
                         f"lobby. Check the port's group: ls -lL {path}", connstring=connstring)]
    if blocked:
        there = f" is there ({path}) but" if path is not None else ""
        return [skip(name, f"NFC reader {reader.id}{there} was not tested: {blocked}.", connstring=connstring)]
    try:
        from drivers.nfc import libnfc
    except OSError as exc:  # pynfc loads libfreefare.so (and so libnfc) when imported
        return [fail(name, f"libnfc cannot be loaded ({exc}), so no NFC reader can work.",
                     "Install it: sudo apt install libnfc6 libfreefare0 libfreefare-dev", connstring=connstring)]
    context = libnfc.Context()
    try:
        device = context.open(connstring)
    except libnfc.NfcError:
        context.close()
        hint = ("Check the reader's cable; a PN532 board must be switched to HSU/UART mode; "
                if connstring.startswith("pn532_uart") else
                "A USB reader taken by the kernel's NFC driver is not free for libnfc: `lsmod | grep pn533` must "
                "show nothing (install.sh blacklists it; unplug and re-plug the reader); ")
        return [fail(name, f"The NFC reader {reader.id} does not answer: libnfc could not open {connstring}.",
                     hint + "with the services stopped, `nfc-list -v` shows what libnfc sees.",
                     connstring=connstring)]
    try:
        device.initiator_init()
    except libnfc.NfcError as exc:
        return [fail(name, f"The NFC reader {reader.id} opened but does not work as a reader: {exc}.",
                     "Unplug and re-plug the reader; if it stays, replace it (see the operator guide).",
                     connstring=connstring)]
    finally:
        device.close()
        context.close()
    where = f", the lobby checkpoint {reader.checkpoint}" if reader.checkpoint else ""
    return [ok(name, f"The NFC reader {reader.id} answers ({connstring}{where}).", connstring=connstring)]


def _missing(name: str, reader: NfcReaderConfig, path: str, connstring: str) -> Result:
    """The reader's port is not there: name the serial ports that are, the likeliest first."""
    from lobby.doctor.serial_check import closest_port, serial_ports

    present = serial_ports(near=path)
    guess = closest_port(path, present)
    listing = ", ".join(present[:12]) or "none"
    message = (f"The NFC reader {reader.id} is not connected: {path} does not exist. "
               f"Serial ports on this Pi: {listing}.")
    if guess:
        fix = (f"Did you mean {guess}? Put it in connstring under the [[readers]] entry with id = \"{reader.id}\" "
               f"in lobby.toml ({connstring.replace(path, guess)}), or plug in the reader.")
        return fail(name, message, fix, connstring=connstring, present=present, suggestion=guess)
    return fail(name, message,
                f"Plug the reader in. If it is plugged in, name it {path} with a udev rule in "
                "/etc/udev/rules.d/90-lobby-site.rules (`lobby doctor` lists the USB-serial adapters "
                "under a missing serial port; `ls -l /dev/lobby-*` shows the names that exist).",
                connstring=connstring, present=present)


def _hid(name: str, reader: NfcReaderConfig) -> Result:
    device = reader.device or ""
    path = device if device.startswith("/") else f"/dev/input/by-id/{device}"
    if not os.path.exists(path):
        return fail(name, f"The keyboard-style NFC reader {reader.id} is not connected: {path} does not exist.",
                    "Plug the reader in; `ls -l /dev/input/by-id/` lists the names of input devices.",
                    device=path)
    if not os.access(path, os.R_OK):
        return fail(name, f"This user may not read the NFC reader {path}.",
                    "The kiosk runs as lobby, which is in group input; run `lobby doctor` as root or as lobby.",
                    device=path)
    return ok(name, f"The keyboard-style NFC reader {reader.id} is connected ({path}).", device=path)
