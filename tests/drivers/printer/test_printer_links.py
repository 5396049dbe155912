"""The real python-escpos Network and Serial connections, against loopback printers."""

from __future__ import annotations

import os
import select
import socket
import threading

import pytest

from drivers.health import HealthState
from drivers.printer import BadgePrinter, PrinterConfigError, make_connection
from drivers.printer.status import STATUS_QUERY
from drivers.printer.sim import PrinterSimState, SimPaper, parse_stream
from drivers.sim.pty import PtyEndpoint


class WirePrinter:
    """A printer at the far end of a byte pipe: records what arrives and answers
    the status query that python-escpos connections send last before they read."""

    def __init__(self) -> None:
        self.state = PrinterSimState()
        self.received = bytearray()
        self.stop = threading.Event()

    def serve(self, recv, send) -> None:
        while not self.stop.is_set():
            chunk = recv()
            if chunk is None:
                continue
            if not chunk:
                return
            self.received += chunk
            if self.received.endswith(STATUS_QUERY):
                send(b"".join(self.state.status_bytes(n) for n in (1, 2, 4)))


@pytest.fixture
def tcp_printer():
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    wire = WirePrinter()

    def handle(conn: socket.socket) -> None:
        def recv():
            try:
                return conn.recv(65536)
            except TimeoutError:
                return None
        conn.settimeout(0.2)
        with conn:
            wire.serve(recv, conn.sendall)

    def run():
        while not wire.stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            handle(conn)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield wire, server.getsockname()[1]
    wire.stop.set()
    thread.join(5)
    server.close()


def test_network_printer_prints_a_badge(tcp_printer, renderer, badge):
    wire, port = tcp_printer
    printer = BadgePrinter(make_connection("network", host="127.0.0.1", port=port, timeout=5),
                           renderer=renderer)
    try:
        result = printer.print_badge(badge)
    finally:
        printer.close()
    assert result.printed
    assert printer.health.state is HealthState.OK
    names = [op.name for op in parse_stream(bytes(wire.received))]
    assert names.count("raster") >= 1 and names.count("cut") == 1


def test_network_printer_out_of_paper(tcp_printer, renderer, badge):
    wire, port = tcp_printer
    wire.state = PrinterSimState(paper=SimPaper.OUT)
    printer = BadgePrinter(make_connection("network", host="127.0.0.1", port=port, timeout=5),
                           renderer=renderer)
    try:
        result = printer.print_badge(badge)
    finally:
        printer.close()
    assert result.held and result.reason == "out of paper"
    assert [op.name for op in parse_stream(bytes(wire.received))] == ["status"] * 3


def test_unreachable_network_printer_is_lost(renderer, badge):
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]        # closed again below: nothing listens there
    printer = BadgePrinter(make_connection("network", host="127.0.0.1", port=port, timeout=2),
                           renderer=renderer)
    result = printer.print_badge(badge)
    assert result.held and result.reason == "printer unreachable"
    assert printer.health.state is HealthState.LOST
    assert len(printer.held_jobs) == 1


def test_serial_printer_on_a_pty(tmp_path, renderer, badge):
    wire = WirePrinter()
    with PtyEndpoint(tmp_path / "ttyPRINTER") as pty:
        def recv():
            ready, _, _ = select.select([pty.master_fd], [], [], 0.2)
            return os.read(pty.master_fd, 65536) if ready else None

        thread = threading.Thread(target=wire.serve,
                                  args=(recv, lambda data: os.write(pty.master_fd, data)),
                                  daemon=True)
        thread.start()
        conn = make_connection("serial", devfile=str(pty.link), baudrate=115200, timeout=3)
        printer = BadgePrinter(conn, renderer=renderer)
        try:
            status = printer.check_status()
            result = printer.print_badge(badge)
        finally:
            printer.close()
            wire.stop.set()
            thread.join(5)
    assert status.answered and status.paper.value == "ok"
    assert result.printed
    assert sum(op.name == "raster" for op in parse_stream(bytes(wire.received))) >= 1


def test_connection_arguments_are_checked():
    with pytest.raises(PrinterConfigError, match="unknown printer connection"):
        make_connection("bluetooth")
    with pytest.raises(PrinterConfigError, match="bad arguments"):
        make_connection("network", hostname="x")
    with pytest.raises(PrinterConfigError, match="needs a host"):
        make_connection("network", host="")
