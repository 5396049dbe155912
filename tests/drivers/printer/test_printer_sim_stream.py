"""The simulator's stream decoder and its command line."""

from __future__ import annotations

import pytest
from PIL import Image

from drivers.printer.sim import (
    EscposDecodeError,
    SimulatedPrinter,
    main,
    parse_stream,
    render_pages,
)

# A 16x2 raster: row 0 all ink, row 1 ink in its first 8 dots only.
RASTER = b"\x1dv0\x00\x02\x00\x02\x00" + b"\xff\xff" + b"\xff\x00"


def test_raster_command_decodes_to_its_pixels():
    ops = parse_stream(b"\x1b@" + RASTER + b"\x1bd\x02" + b"\x1dVA\x00")
    assert [op.name for op in ops] == ["init", "raster", "feed_lines", "cut"]
    image = ops[1].raster.to_image()
    assert image.size == (16, 2)
    assert [image.getpixel((x, 1)) for x in (0, 7, 8, 15)] == [0, 0, 255, 255]
    (page,) = render_pages(b"\x1b@" + RASTER + b"\x1bd\x02" + b"\x1dVA\x00")
    assert page.size == (16, 2 + 2 * 30)


def test_image_bytes_that_look_like_commands_stay_image_data():
    tricky = b"\x1dv0\x00\x01\x00\x03\x00" + b"\x10\x04\x01"  # DLE EOT inside the pixels
    assert [op.name for op in parse_stream(tricky)] == ["raster"]


@pytest.mark.parametrize("stream, problem", [
    (b"\x1b\x7f", "unknown command"),
    (RASTER[:-1], "cut short"),
    (b"\x1dv", "cut short"),
])
def test_malformed_streams_are_reported(stream, problem):
    with pytest.raises(EscposDecodeError, match=problem):
        parse_stream(stream)


def test_text_and_pages(tmp_path):
    stream = b"hello\n" + b"\x1dV\x00" + RASTER + b"\x1dV\x01" + b"\x1bd\x03"
    ops = parse_stream(stream)
    assert [op.name for op in ops] == ["text", "feed_lines", "cut", "raster", "cut", "feed_lines"]
    assert len(render_pages(stream)) == 2     # a page of text, a page with the image; no blank tail


def test_command_line_state_and_preview(tmp_path, capsys):
    stream = tmp_path / "p.escpos"
    assert main(["state", str(stream), "--paper", "out", "--cover", "open"]) == 0
    sim = SimulatedPrinter(stream)
    assert sim.state.paper.value == "out" and sim.state.cover_open
    assert main(["preview", str(stream), str(tmp_path / "x.png")]) == 1   # nothing printed yet

    main(["state", str(stream), "--paper", "ok", "--cover", "closed"])
    sim._raw(RASTER)
    assert main(["preview", str(stream), str(tmp_path / "x.png")]) == 0
    assert Image.open(tmp_path / "x.png").size == (16, 2)
