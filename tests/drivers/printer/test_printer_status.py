"""Printer health and held jobs: out of paper, cover open, offline, paper running out mid-job."""

from __future__ import annotations

import pytest
from escpos.constants import RT_STATUS_ONLINE

from drivers.health import HealthState
from drivers.printer import BadgePrinter, PaperState, decode_status, read_status
from drivers.printer.printer import RAN_OUT, UNREACHABLE
from drivers.printer.sim import SimPaper, SimulatedPrinter, parse_stream


def raster_count(sim: SimulatedPrinter) -> int:
    return sum(op.name == "raster" for op in parse_stream(sim.printed_bytes()))


def test_status_of_a_healthy_printer(printer, sim_printer):
    status = printer.check_status()
    assert status.answered and status.online and status.can_print
    assert status.paper is PaperState.OK
    assert printer.health.state is HealthState.OK


@pytest.mark.parametrize("state, paper, reason", [
    ({"paper": "out"}, PaperState.OUT, "out of paper"),
    ({"cover_open": True}, PaperState.OK, "cover open"),
])
def test_status_bytes_decode(sim_printer, state, paper, reason):
    sim_printer.set_state(**state)
    status = read_status(sim_printer)
    assert status.paper is paper and not status.can_print
    assert status.health() == (HealthState.DEGRADED, reason)


def test_python_escpos_own_status_calls_work_on_the_simulator(sim_printer):
    assert sim_printer.is_online() and sim_printer.paper_status() == 2
    sim_printer.set_state(paper="near_end")
    assert sim_printer.paper_status() == 1
    sim_printer.set_state(paper="out")
    assert sim_printer.paper_status() == 0 and not sim_printer.is_online()


def test_garbage_or_silence_is_no_answer():
    assert not decode_status(b"").answered
    assert not decode_status(b"\xff\xff\xff").answered
    assert decode_status(b"\x12\x12\x12").answered


def test_out_of_paper_holds_the_job_and_reprints_it(printer, sim_printer, badge):
    changes = []
    printer.subscribe_health(changes.append)
    sim_printer.set_state(paper="out")

    result = printer.print_badge(badge)
    assert not result.printed and result.held
    assert result.reason == "out of paper"
    assert printer.health.state is HealthState.DEGRADED
    assert printer.health.reason == "out of paper"
    assert [job.job_id for job in printer.held_jobs] == [result.job_id]
    assert raster_count(sim_printer) == 0            # nothing was sent to print

    result_again = printer.reprint(result.job_id)    # still no paper: still held
    assert result_again.held and printer.held_jobs[0].attempts == 2

    sim_printer.set_state(paper="ok")
    reprinted = printer.reprint(result.job_id)
    assert reprinted.printed and reprinted.job_id == result.job_id
    assert printer.held_jobs == []
    assert raster_count(sim_printer) > 0
    assert printer.health.state is HealthState.OK
    assert [c.reason for c in changes][-2:] == ["out of paper", ""]


def test_cover_open_holds_the_job(printer, sim_printer, badge):
    sim_printer.set_state(cover_open=True)
    result = printer.print_badge(badge)
    assert result.held and result.reason == "cover open"
    assert printer.health.reason == "cover open"


def test_offline_printer_is_lost_and_the_job_waits(printer, sim_printer, badge):
    sim_printer.set_state(offline=True)
    result = printer.print_badge(badge)
    assert result.held and result.reason == UNREACHABLE
    assert printer.health.state is HealthState.LOST
    assert not printer.check_status().answered

    sim_printer.set_state(offline=False)
    results = printer.reprint_held()
    assert [r.printed for r in results] == [True]
    assert printer.health.state is HealthState.OK
    assert raster_count(sim_printer) > 0


def test_printer_going_offline_after_connecting(printer, sim_printer, badge):
    assert printer.print_badge(badge).printed
    sim_printer.set_state(offline=True)              # the link drops while connected
    result = printer.print_badge(badge)
    assert result.held and printer.health.state is HealthState.LOST
    sim_printer.set_state(offline=False)
    assert printer.reprint(result.job_id).printed


class PaperRunsOut(SimulatedPrinter):
    """Runs out of paper right after the first raster band arrives (once)."""

    armed = True

    def _raw(self, msg: bytes) -> None:
        super()._raw(msg)
        if self.armed and msg.startswith(b"\x1dv0"):
            self.armed = False
            self.set_state(paper="out")


def test_paper_running_out_mid_job_keeps_the_job(tmp_path, renderer, badge):
    sim = PaperRunsOut(tmp_path / "p.escpos")
    printer = BadgePrinter(sim, renderer=renderer, band_height=64)
    result = printer.print_badge(badge)
    assert result.held and result.reason == RAN_OUT
    assert sim.dropped_bytes > 0                     # the rest of the badge never printed
    assert printer.health.reason == "out of paper"

    sim.set_state(paper=SimPaper.OK)                 # a new roll; it lasts this time
    assert printer.reprint(result.job_id).printed


def test_near_end_prints_but_warns(printer, sim_printer, badge):
    sim_printer.set_state(paper="near_end")
    assert printer.print_badge(badge).printed
    assert printer.health.state is HealthState.DEGRADED
    assert printer.health.reason == "paper low"


def test_held_jobs_are_bounded_and_can_be_discarded(sim_printer, renderer, badge):
    printer = BadgePrinter(sim_printer, renderer=renderer, max_held_jobs=2)
    sim_printer.set_state(paper="out")
    ids = [printer.print_badge(badge).job_id for _ in range(3)]
    assert [job.job_id for job in printer.held_jobs] == ids[1:]
    assert printer.discard(ids[1]) and not printer.discard(ids[1])
    with pytest.raises(KeyError):
        printer.reprint(ids[0])


def test_printer_without_status_line_still_prints(sim_printer, renderer, badge):
    printer = BadgePrinter(sim_printer, renderer=renderer, query_status=False)
    assert printer.print_badge(badge).printed
    statuses = [op for op in parse_stream(sim_printer.printed_bytes()) if op.name == "status"]
    assert statuses == []
    assert printer.health.state is HealthState.OK


def test_simulator_state_is_shared_through_its_file(sim_printer):
    other_process_view = SimulatedPrinter(sim_printer.path)
    other_process_view.set_state(paper="out")
    assert sim_printer.state.paper is SimPaper.OUT
    sim_printer._raw(RT_STATUS_ONLINE)
    assert sim_printer._read() == b"\x1a"            # 0x12 fixed bits | 0x08 offline
