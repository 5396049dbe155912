"""`[kiosk] rotation`: a panel mounted turned. The real kiosk under an Xvfb screen the size of the
physical panel (800x480), with rotation 90, 180 and 270.

For each: the app lays out in the turned size (portrait at 90/270), the screenshot of the X screen
is the upright app's picture turned by that angle (compared loosely with the rotation-0 app's
screenshot turned by PIL, and better matched than the opposite turn), the probe reports the feedback
button where that turned picture has it, and a real xdotool click there opens the feedback screen (and one on a face thanks).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kiosk_driver import Kiosk, write_config
from PIL import Image, ImageChops, ImageStat

PANEL = (800, 480)  # the X screen: the physical panel, as its controller scans it
THUMB = 96  # the long side of the compared thumbnails: layout, not anti-aliasing


def _start(display: Callable[[int, int], Any], work: Path, size: tuple[int, int], rotation: int) -> Kiosk:
    work.mkdir(parents=True, exist_ok=True)
    config = write_config(work / "lobby.toml", work / "state", 1883,
                          kiosk=f"rotation = {rotation}\nidle_timeout_s = 3600\nscreensaver_after_s = 3600")
    return Kiosk(display(*size), config, work, lang="zh").start()


@pytest.fixture(scope="module")
def upright(display: Callable[[int, int], Any], tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[int, int], Any]:
    """The rotation-0 app at each size a turned panel gives it: its home screen picture and widget map."""
    out: dict[tuple[int, int], Any] = {}
    for size in (PANEL, PANEL[::-1]):
        k = _start(display, tmp_path_factory.mktemp(f"upright{size[0]}"), size, 0)
        try:
            m = k.settled()
            assert m["rotation"] == 0 and tuple(m["size"]) == size
            out[size] = (Image.open(k.screenshot(f"rotation-0-{size[0]}x{size[1]}")).convert("L"), m)
        finally:
            k.stop()
    return out


def _thumb(img: Image.Image) -> Image.Image:
    w, h = img.size
    scale = THUMB / max(w, h)
    return img.resize((round(w * scale), round(h * scale)), Image.Resampling.BOX)


def _difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute grey-level difference (0-255) of two same-sized pictures, as thumbnails."""
    return float(ImageStat.Stat(ImageChops.difference(_thumb(a), _thumb(b))).mean[0])


def _turn_rect(w: dict[str, Any], size: tuple[int, int], angle: int) -> tuple[int, int, int, int]:
    """A rectangle of an upright picture of `size` (origin top-left) after PIL's rotate(angle, expand=True)
    (counter-clockwise)."""
    sw, sh = size
    corners = [(w["x"], w["y"]), (w["x"] + w["w"], w["y"] + w["h"])]
    if angle == 90:
        pts = [(v, sw - u) for u, v in corners]
    elif angle == 180:
        pts = [(sw - u, sh - v) for u, v in corners]
    else:
        pts = [(sh - v, u) for u, v in corners]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_turned_panel_draws_turned_and_takes_clicks_where_drawn(
        rotation: int, upright: dict[tuple[int, int], Any], display: Callable[[int, int], Any],
        tmp_path: Path) -> None:
    logical = PANEL[::-1] if rotation in (90, 270) else PANEL
    k = _start(display, tmp_path, PANEL, rotation)
    try:
        m = k.settled()
        assert m["rotation"] == rotation
        assert tuple(m["size"]) == logical  # the app lays out portrait on a landscape panel at 90/270
        assert m["window"][2:] == list(PANEL)

        # the picture: the upright app's, turned (counter-clockwise, as Kivy turns it)
        shot = Image.open(k.screenshot(f"rotation-{rotation}")).convert("L")
        assert shot.size == PANEL
        ref, ref_map = upright[logical]
        expected = ref.rotate(rotation, expand=True)
        opposite = ref.rotate((rotation + 180) % 360, expand=True)
        near, far = _difference(shot, expected), _difference(shot, opposite)
        assert near < 12, f"rotation {rotation}: the screen differs from the turned upright picture by {near:.1f}"
        assert near * 2 < far, f"rotation {rotation}: turned the wrong way? ({near:.1f} vs opposite {far:.1f})"
        if rotation == 180:  # and not simply the upright picture
            assert near * 2 < _difference(shot, ref)

        # the probe reports the button where the turned picture has it
        button = m["widgets"]["feedback"]
        want = _turn_rect(ref_map["widgets"]["feedback"], logical, rotation)
        got = (button["x"], button["y"], button["w"], button["h"])
        assert all(abs(a - b) <= 2 for a, b in zip(got, want)), (got, want)
        assert want[0] <= button["cx"] <= want[0] + want[2] and want[1] <= button["cy"] <= want[1] + want[3]

        # and a real click there (xdotool, X screen coordinates) presses it
        k.click("feedback")
        k.wait_screen("fb_faces")
        k.click("face_very_happy")  # a second screen's button: also where it is drawn
        k.wait_screen("fb_thanks")
    finally:
        k.stop()
