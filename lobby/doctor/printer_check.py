"""The badge printer: reachable, online, paper in, cover closed (ESC/POS status, drivers.printer)."""

from __future__ import annotations

from lobby.config import Config
from lobby.doctor.base import Check, Context, Result, fail, ok, skip, warn

NAME = "printer"


def checks(cfg: Config) -> list[Check]:
    return [Check(NAME, run, timeout_s=6.0,
                  timeout_message="The badge printer did not answer within 6 s.",
                  timeout_fix="Check the printer's power and cable (or network), then run `lobby doctor` again.")]


def run(ctx: Context) -> list[Result]:
    p = ctx.cfg.printer
    if p.kind == "none":
        return [skip(NAME, "No badge printer is configured ([printer] kind = \"none\").")]
    blocked = ctx.device_probe_blocked("kiosk")
    if blocked:
        return [skip(NAME, f"The badge printer was not tested: {blocked}.")]
    from escpos.exceptions import Error as EscposError

    from drivers.printer import PaperState, PrinterConfigError, make_connection, read_status

    where = {"file": f"file {p.path}", "serial": f"serial port {p.path}", "network": f"{p.host}:{p.port}",
             "usb": f"USB {p.usb_vendor or 0:04x}:{p.usb_product or 0:04x}"}[p.kind]
    try:
        if p.kind == "file":
            conn = make_connection("sim", path=p.path)
        elif p.kind == "serial":
            conn = make_connection("serial", devfile=p.path, baudrate=p.baudrate, timeout=1.0)
        elif p.kind == "network":
            conn = make_connection("network", host=p.host, port=p.port, timeout=3.0)
        else:
            conn = make_connection("usb", vendor_id=p.usb_vendor, product_id=p.usb_product or 0)
    except PrinterConfigError as exc:
        return [fail(NAME, f"The badge printer ({where}) cannot be used: {exc}.",
                     "Re-run install.sh (it installs pyusb and libusb for USB printers) or fix [printer].")]
    try:
        conn.open()
        status = read_status(conn)
    except (OSError, EscposError, ValueError) as exc:
        return [fail(NAME, f"The badge printer ({where}) cannot be reached: {type(exc).__name__}: {exc}.",
                     "Check that it is switched on and its cable is in; a USB printer must match [printer] "
                     "usb_vendor/usb_product (`lsusb`) and the udev rule that gives it to group plugdev.")]
    finally:
        try:
            conn.close()
        except Exception:  # a half-open link may fail to close; it is closed anyway
            pass
    if not status.answered:
        return [fail(NAME, f"The badge printer ({where}) is connected but does not answer status requests.",
                     "Switch it off and on; if it prints but never answers, its status line is not wired.")]
    if status.paper is PaperState.OUT:
        return [fail(NAME, f"The badge printer ({where}) is out of paper.", "Load a new 58 mm paper roll.")]
    if status.cover_open:
        return [fail(NAME, f"The badge printer's cover is open ({where}).", "Close the cover until it clicks.")]
    if status.error or not status.online:
        return [fail(NAME, f"The badge printer ({where}) reports an error (offline).",
                     "Switch it off and on; clear a paper jam; let the print head cool down.")]
    if status.paper is PaperState.NEAR_END:
        return [warn(NAME, f"The badge printer ({where}) is nearly out of paper.", "Have a new roll ready.")]
    return [ok(NAME, f"The badge printer ({where}) is ready.")]
