"""Printing badges, tickets and roll calls on the simulator, checked on the bytes it received."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image, ImageChops

from drivers.printer import (
    RollCall,
    RollCallEntry,
    TicketReceipt,
    badge_blocks,
    roll_call_blocks,
    ticket_blocks,
)
from drivers.printer.sim import parse_stream, render_pages


def rasters(stream: bytes):
    return [op.raster for op in parse_stream(stream) if op.name == "raster"]


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    if a.size != b.size:
        return False
    return ImageChops.difference(a.convert("L"), b.convert("L")).getbbox() is None


def qr_matches_pixels(preview: Image.Image, placement) -> bool:
    """Every module of the generated QR matrix has the right colour at its centre in the preview."""
    pixels = preview.convert("L").load()
    half = placement.module_px // 2
    for r, row in enumerate(placement.matrix):
        for c, dark in enumerate(row):
            x = placement.left + c * placement.module_px + half
            y = placement.top + r * placement.module_px + half
            if (pixels[x, y] == 0) != dark:
                return False
    return True


def decode_qr(image: Image.Image) -> list[str]:
    zxingcpp = pytest.importorskip("zxingcpp")
    return [result.text for result in zxingcpp.read_barcodes(image.convert("L"))]


def test_badge_bytes_are_a_valid_raster_of_the_badge(printer, sim_printer, badge, renderer):
    result = printer.print_badge(badge)
    assert result.printed and result.kind == "badge"

    ops = parse_stream(sim_printer.printed_bytes())   # raises on any malformed command
    names = [op.name for op in ops]
    assert names[names.index("init") + 1] == "raster"
    assert names.count("cut") == 1
    bands = rasters(sim_printer.printed_bytes())
    assert all(band.width_bytes * 8 == renderer.width_px and band.mode == 0 for band in bands)

    expected = renderer.render(badge_blocks(badge)).image
    assert sum(band.height for band in bands) == expected.height
    page = render_pages(sim_printer.printed_bytes())[0]
    assert same_pixels(page.crop((0, 0) + expected.size), expected)


def test_badge_preview_qr_is_the_pass_number(printer, sim_printer, badge, renderer, tmp_path):
    printer.print_badge(badge)
    png = sim_printer.save_preview(tmp_path / "badge.png")
    preview = Image.open(png)
    placement = renderer.render(badge_blocks(badge)).qr_codes["qr"]
    assert placement.data == badge.pass_number
    assert qr_matches_pixels(preview, placement)


def test_badge_preview_qr_decodes_to_the_pass_number(printer, sim_printer, badge, tmp_path):
    printer.print_badge(badge)
    preview = Image.open(sim_printer.save_preview(tmp_path / "badge.png"))
    assert decode_qr(preview) == [badge.pass_number]


def test_chinese_name_prints_as_glyphs_not_tofu(printer, sim_printer, badge, renderer,
                                                tofu_renderer, tmp_path):
    printer.print_badge(badge)
    preview = Image.open(sim_printer.save_preview(tmp_path / "badge.png"))
    noto = renderer.render(badge_blocks(badge))
    tofu = tofu_renderer.render(badge_blocks(badge))
    box = noto.regions["visitor_name"]
    printed_name = preview.crop(box)
    assert printed_name.convert("L").histogram()[0] > 500   # there is ink where the name goes
    assert same_pixels(printed_name, noto.image.crop(box))
    assert not same_pixels(printed_name, tofu.image.crop(tofu.regions["visitor_name"]))
    assert noto.missing_glyphs == 0
    assert tofu.missing_glyphs > 0


@pytest.mark.parametrize("name", ["张" * 10_000, "Wolfeschlegelsteinhausen " * 400])
def test_ten_thousand_character_name_still_prints_a_normal_badge(printer, sim_printer, badge,
                                                                  renderer, name):
    normal = renderer.render(badge_blocks(badge))
    huge = replace(badge, visitor_name=name)
    result = printer.print_badge(huge)
    assert result.printed
    doc = renderer.render(badge_blocks(huge))
    name_box, normal_box = doc.regions["visitor_name"], normal.regions["visitor_name"]
    one_line = normal_box[3] - normal_box[1]
    assert name_box[3] - name_box[1] <= 2 * one_line + renderer.line_gap_px  # two lines at most
    page = render_pages(sim_printer.printed_bytes())[-1]
    assert qr_matches_pixels(page, doc.qr_codes["qr"])


def test_ticket_receipt_prints_number_promise_and_qr(printer, sim_printer, renderer, tmp_path):
    ticket = TicketReceipt("T-20251125-0007", "我们将在2小时内答复您 We will reply within 2 hours",
                           datetime(2025, 11, 25, 3, 30, tzinfo=UTC))
    assert printer.print_ticket(ticket).printed
    preview = Image.open(sim_printer.save_preview(tmp_path / "ticket.png"))
    doc = renderer.render(ticket_blocks(ticket))
    assert same_pixels(preview.crop((0, 0) + doc.image.size), doc.image)
    assert qr_matches_pixels(preview, doc.qr_codes["qr"])
    assert doc.missing_glyphs == 0


def test_roll_call_lists_everyone(printer, sim_printer, renderer):
    entries = [RollCallEntry(f"访客{i:02d}", f"{i}F") for i in range(40)]
    roll = RollCall(entries, printed_at=datetime(2025, 11, 25, 14, 5), site="A座")
    assert printer.print_roll_call(roll).printed
    doc = renderer.render(roll_call_blocks(roll))
    assert [f"entry{i}" for i in range(1, 41)] == [k for k in doc.regions if k.startswith("entry")]
    page = render_pages(sim_printer.printed_bytes())[-1]
    assert same_pixels(page.crop((0, 0) + doc.image.size), doc.image)
    shorter = renderer.render(roll_call_blocks(replace(roll, entries=entries[:5])))
    assert doc.image.height > shorter.image.height


def test_each_document_is_its_own_page(printer, sim_printer, badge):
    for hours in range(3):
        printer.print_badge(replace(badge, valid_until=badge.valid_until + timedelta(hours=hours)))
    assert len(render_pages(sim_printer.printed_bytes())) == 3
