"""The lobby's ESC/POS printer: documents rendered as 1-bit rasters, sent with python-escpos.

``BadgePrinter(make_connection("network", host=...)).print_badge(VisitorBadge(...))``;
the simulator (``make_connection("sim", path=...)``) lives in :mod:`drivers.printer.sim`.

This folder owns the printer driver (``printer``, ``status``), the documents
(``layouts``, ``render``, ``fonts``), the connection kinds (``connection``) and the
file-backed simulator (``sim``; ``python -m drivers.printer.sim`` inspects it).

May import: the standard library, python-escpos, Pillow and qrcode; never lobby,
kiosk or mqtt_bridge.
"""

from drivers.printer.connection import (
                                        PrinterConfigError,
                                        make_connection,
                                        network_connection,
                                        serial_connection,
                                        sim_connection,
                                        usb_connection,
)
from drivers.printer.fonts import DEFAULT_BOLD_FONT_PATH, DEFAULT_FONT_PATH, FontError, FontSet
from drivers.printer.layouts import (
                                        RollCall,
                                        RollCallEntry,
                                        TicketReceipt,
                                        VisitorBadge,
                                        badge_blocks,
                                        roll_call_blocks,
                                        ticket_blocks,
)
from drivers.printer.printer import BadgePrinter, HeldJob, PrintResult
from drivers.printer.render import (
                                        Block,
                                        QrBlock,
                                        QrPlacement,
                                        RenderedDocument,
                                        Renderer,
                                        RuleBlock,
                                        SpaceBlock,
                                        TextBlock,
)
from drivers.printer.status import PaperState, PrinterStatus, decode_status, read_status

__all__ = [
    "BadgePrinter", "Block", "DEFAULT_BOLD_FONT_PATH", "DEFAULT_FONT_PATH", "FontError", "FontSet",
    "HeldJob", "PaperState", "PrintResult", "PrinterConfigError", "PrinterStatus", "QrBlock",
    "QrPlacement", "RenderedDocument", "Renderer", "RollCall", "RollCallEntry", "RuleBlock",
    "SpaceBlock", "TextBlock", "TicketReceipt", "VisitorBadge", "badge_blocks", "decode_status",
    "make_connection", "network_connection", "read_status", "roll_call_blocks",
    "serial_connection", "sim_connection", "ticket_blocks", "usb_connection",
]
