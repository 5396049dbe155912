"""Fixtures for the printer tests: the file-backed simulator and a printer on it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from drivers.printer import BadgePrinter, FontSet, Renderer, VisitorBadge
from drivers.printer.sim import SimulatedPrinter

NON_CJK_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@pytest.fixture(scope="session")
def renderer() -> Renderer:
    return Renderer()


@pytest.fixture(scope="session")
def tofu_renderer() -> Renderer:
    """The same layout with a font that has no Chinese glyphs."""
    if not NON_CJK_FONT.is_file():
        pytest.skip("DejaVu Sans (fonts-dejavu-core) is not installed")
    return Renderer(FontSet(NON_CJK_FONT))


@pytest.fixture
def sim_printer(tmp_path) -> SimulatedPrinter:
    return SimulatedPrinter(tmp_path / "printer.escpos")


@pytest.fixture
def printer(sim_printer, renderer):
    with BadgePrinter(sim_printer, renderer=renderer) as badge_printer:
        yield badge_printer


@pytest.fixture
def badge() -> VisitorBadge:
    return VisitorBadge(
        visitor_name="张伟", pass_number="V-20251125-0042",
        valid_from=datetime(2025, 11, 25, 9, 30), valid_until=datetime(2025, 11, 25, 18, 0),
        host_company="华润置地", host_unit="12F-1203", host_person="李娜")
