"""The lobby's ESC/POS printer: visitor badges, ticket receipts and roll-call lists.

Each document is rendered to a 1-bit raster (so Chinese prints on any ESC/POS
printer, whatever its code pages) and sent with the ``GS v 0`` raster command
through a python-escpos connection.

A print never raises into the caller because of the printer: it returns a
:class:`PrintResult`. When the printer is out of paper, has its cover open, is
offline or unreachable, the job is *held* (rendered, in memory) and can be
printed again with :meth:`BadgePrinter.reprint` once the printer is back.
The printer's state is reported as device health.

Calls block while the printer works (a badge takes a second or two); call
from a worker thread, not the UI thread. One job is sent at a time.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo

from escpos.escpos import Escpos
from escpos.exceptions import Error as EscposError
from PIL import Image

from drivers.health import DeviceHealth, HealthReporter, HealthState
from drivers.printer.layouts import (
    RollCall,
    TicketReceipt,
    VisitorBadge,
    badge_blocks,
    roll_call_blocks,
    ticket_blocks,
)
from drivers.printer.render import Block, RenderedDocument, Renderer
from drivers.printer.status import PaperState, PrinterStatus, read_status

log = logging.getLogger(__name__)

UNREACHABLE = "printer unreachable"
RAN_OUT = "paper ran out while printing"


@dataclass(frozen=True)
class PrintResult:
    """What became of a print. ``printed`` False means the job is held for reprint."""

    job_id: str
    kind: str
    printed: bool
    reason: str = ""   # why it was held, in plain words for the operator

    @property
    def held(self) -> bool:
        return not self.printed


@dataclass(frozen=True)
class HeldJob:
    """A held job as others may see it: no personal data, just what and why."""

    job_id: str
    kind: str
    reason: str
    attempts: int
    held_since_mono: float


@dataclass
class _Job:
    job_id: str
    kind: str
    image: Image.Image
    attempts: int = 0
    reason: str = ""
    held_since: float = 0.0


class BadgePrinter:
    """Prints the lobby's documents on one ESC/POS printer.

    :param connection: a python-escpos connection (see :mod:`drivers.printer.connection`).
    :param renderer: how documents are drawn; by default Noto Sans CJK on
        *paper_width_px* dots (576 for 80 mm paper, 384 for 58 mm).
    :param band_height: rows per ``GS v 0`` command; small bands suit printers
        with small receive buffers.
    :param query_status: ask the printer's real-time status (DLE EOT) around
        each job; turn off for printers whose status line is not wired.
    :param max_held_jobs: held jobs kept; the oldest is dropped past this.
    :param tz: zone for printed times (default: the system's).
    """

    def __init__(self, connection: Escpos, *, printer_id: str = "badge-printer",
                 renderer: Renderer | None = None, paper_width_px: int = 576,
                 band_height: int = 256, cut: bool = True, query_status: bool = True,
                 max_held_jobs: int = 20, tz: tzinfo | None = None) -> None:
        self.printer_id = printer_id
        self.renderer = renderer if renderer is not None else Renderer(width_px=paper_width_px)
        self.band_height = band_height
        self.cut = cut
        self.query_status = query_status
        self.max_held_jobs = max_held_jobs
        self.tz = tz
        self._conn = connection
        self._connected = False
        self._lock = threading.RLock()
        self._held: OrderedDict[str, _Job] = OrderedDict()
        self._health = HealthReporter(printer_id)
        _fit_profile(connection, self.renderer.width_px)

    # -- health -------------------------------------------------------------------
    @property
    def health(self) -> DeviceHealth:
        return self._health.health

    def subscribe_health(self, listener: Callable[[DeviceHealth], None]) -> None:
        self._health.subscribe(listener)

    def check_status(self) -> PrinterStatus:
        """Poll the printer (no printing) and update health; for a periodic check."""
        with self._lock:
            try:
                self._ensure_open()
                status = read_status(self._conn) if self.query_status \
                    else PrinterStatus(answered=True)
            except (OSError, EscposError) as exc:
                self._lost(exc)
                return PrinterStatus(answered=False, online=False)
            self._apply(status)
            return status

    # -- documents ----------------------------------------------------------------
    def print_badge(self, badge: VisitorBadge) -> PrintResult:
        return self.print_blocks("badge", badge_blocks(badge, self.tz))

    def print_ticket(self, ticket: TicketReceipt) -> PrintResult:
        return self.print_blocks("ticket", ticket_blocks(ticket, self.tz))

    def print_roll_call(self, roll: RollCall) -> PrintResult:
        return self.print_blocks("roll_call", roll_call_blocks(roll, self.tz))

    def print_blocks(self, kind: str, blocks: list[Block]) -> PrintResult:
        """Render and print any block list (the layouts' common path)."""
        return self.print_rendered(kind, self.renderer.render(blocks))

    def print_rendered(self, kind: str, document: RenderedDocument) -> PrintResult:
        job = _Job(f"{kind}-{uuid.uuid4().hex[:12]}", kind, document.image)
        with self._lock:
            return self._run(job)

    # -- held jobs ------------------------------------------------------------------
    @property
    def held_jobs(self) -> list[HeldJob]:
        with self._lock:
            return [HeldJob(j.job_id, j.kind, j.reason, j.attempts, j.held_since)
                    for j in self._held.values()]

    def reprint(self, job_id: str) -> PrintResult:
        """Try a held job again. Unknown ids raise ``KeyError``."""
        with self._lock:
            return self._run(self._held[job_id])

    def reprint_held(self) -> list[PrintResult]:
        """Try every held job, oldest first, stopping at the first that is held again."""
        results = []
        with self._lock:
            for job_id in list(self._held):
                result = self._run(self._held[job_id])
                results.append(result)
                if result.held:
                    break
        return results

    def discard(self, job_id: str) -> bool:
        with self._lock:
            return self._held.pop(job_id, None) is not None

    # -- one job --------------------------------------------------------------------
    def _run(self, job: _Job) -> PrintResult:
        job.attempts += 1
        reason = self._send(job)
        if reason is None:
            self._held.pop(job.job_id, None)
            log.info("printer %s: %s job %s printed", self.printer_id, job.kind, job.job_id)
            return PrintResult(job.job_id, job.kind, True)
        self._hold(job, reason)
        return PrintResult(job.job_id, job.kind, False, reason)

    def _send(self, job: _Job) -> str | None:
        """Send *job*; None when printed, else the reason it is held."""
        try:
            self._ensure_open()
            if self.query_status:
                before = read_status(self._conn)
                self._apply(before)
                if not before.can_print:
                    return before.health()[1]
            self._write(job.image)
            if not self.query_status:
                self._health.set(HealthState.OK)
                return None
            after = read_status(self._conn)
        except (OSError, EscposError) as exc:
            self._lost(exc)
            return UNREACHABLE
        self._apply(after)
        if after.answered and (after.paper is PaperState.OUT or after.cover_open):
            return RAN_OUT if after.paper is PaperState.OUT else "cover opened while printing"
        return None

    def _write(self, image: Image.Image) -> None:
        conn = self._conn
        conn.hw("INIT")
        conn.image(image, impl="bitImageRaster", fragment_height=self.band_height)
        if self.cut:
            conn.cut()
        else:
            conn.print_and_feed(4)

    def _hold(self, job: _Job, reason: str) -> None:
        if job.job_id not in self._held:
            job.held_since = time.monotonic()
            self._held[job.job_id] = job
        job.reason = reason
        log.warning("printer %s: %s job %s held: %s", self.printer_id, job.kind,
                    job.job_id, reason)
        while len(self._held) > self.max_held_jobs:
            old_id, old = self._held.popitem(last=False)
            log.warning("printer %s: too many held jobs, dropped %s job %s",
                        self.printer_id, old.kind, old_id)

    # -- connection -----------------------------------------------------------------
    def _ensure_open(self) -> None:
        if not self._connected:
            self._conn.open()
            self._connected = True

    def _apply(self, status: PrinterStatus) -> None:
        state, reason = status.health()
        self._health.set(state, reason)

    def _lost(self, exc: BaseException) -> None:
        log.warning("printer %s unreachable: %s: %s", self.printer_id, type(exc).__name__, exc)
        self._health.set(HealthState.LOST, UNREACHABLE)
        self._connected = False
        try:
            self._conn.close()
        except Exception:  # closing a broken link may fail in many ways; it is closed anyway
            log.debug("printer %s: close after failure failed", self.printer_id, exc_info=True)

    def close(self) -> None:
        with self._lock:
            if self._connected:
                self._conn.close()
                self._connected = False

    def __enter__(self) -> BadgePrinter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fit_profile(conn: Escpos, width_px: int) -> None:
    """Tell python-escpos the paper width when its profile does not know it.

    Profile data is shared by every connection of that profile, so this
    connection gets its own copy.
    """
    data = conn.profile.profile_data
    pixels = data.get("media", {}).get("width", {}).get("pixels", "Unknown")
    try:
        known = int(pixels)
    except (TypeError, ValueError):
        known = None
    if known is not None and known >= width_px:
        return
    if known is not None:
        raise ValueError(f"paper width {width_px} dots is wider than the printer profile's "
                         f"{known}; use paper_width_px={known}")
    data = copy.deepcopy(data)
    data.setdefault("media", {}).setdefault("width", {})["pixels"] = width_px
    conn.profile.profile_data = data
