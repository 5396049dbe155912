"""Kivy's process settings, applied before Kivy is imported (no Kivy import here).

Kiosk lockdown starts here: no Escape-to-exit, no multitouch simulation dots, no
settings panel, no argument parsing by Kivy, no Kivy log files; the window is full
screen in production and a borderless window at (0, 0) when `fullscreen = false`
(the demo, the tests). `kiosk.rotation` turns the window's content and its input
from the first frame on (a portrait-mounted panel).
"""

from __future__ import annotations

import os
from pathlib import Path

from lobby.config import Config


_M_MMAP_THRESHOLD = -3  # mallopt(3) parameter numbers (glibc)
MMAP_THRESHOLD = 64 * 1024


def tune_malloc() -> None:
    """Blocks of 64 KB and more get their own mapping, returned to the system when freed.

    The kiosk's big blocks are text textures and render buffers (software OpenGL keeps
    textures in system memory): they come and go as screens are shown and texts change.
    glibc raises its mmap threshold each time such a block is freed, after which they are
    carved out of the heap, which cannot shrink past the live blocks above them. A fixed
    threshold keeps them out of the heap (measured: about 5 MB less after 50 flows)."""
    import ctypes

    try:
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    except (OSError, AttributeError):  # not glibc
        pass


def prepare(cfg: Config, *, size: tuple[int, int] | None = None, fullscreen: bool | None = None) -> None:
    tune_malloc()
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")  # Kivy logs through the logging module (no traceback on screen)
    os.environ.setdefault("KIVY_HOME", str(Path(cfg.state_dir) / "kivy"))
    Path(os.environ["KIVY_HOME"]).mkdir(parents=True, exist_ok=True)

    from kivy.config import Config as KivyConfig

    full = cfg.kiosk.fullscreen if fullscreen is None else fullscreen
    KivyConfig.set("kivy", "exit_on_escape", "0")
    KivyConfig.set("kivy", "pause_on_minimize", "0")
    KivyConfig.set("kivy", "keyboard_mode", "system")  # no Kivy virtual keyboard: ours is kiosk.ime
    KivyConfig.set("input", "mouse", "mouse,disable_multitouch")
    KivyConfig.set("graphics", "maxfps", "60")
    KivyConfig.set("graphics", "multisamples", "0")
    KivyConfig.set("graphics", "resizable", "0")
    # The panel as mounted: the window is created turned, so the first frame is already upright, and
    # Kivy maps every pointer and touch position back through the same turn (WindowBase.rotation).
    # One mechanism for both start-up modes (KMS/DRM and cage): the compositor's output is left as is.
    KivyConfig.set("graphics", "rotation", str(cfg.kiosk.rotation))
    if full:
        KivyConfig.set("graphics", "fullscreen", "auto")
        KivyConfig.set("graphics", "borderless", "1")
        KivyConfig.set("graphics", "show_cursor", "0")
    else:
        w, h = size or (800, 480)
        KivyConfig.set("graphics", "fullscreen", "0")
        KivyConfig.set("graphics", "borderless", "1")
        KivyConfig.set("graphics", "width", str(w))
        KivyConfig.set("graphics", "height", str(h))
        KivyConfig.set("graphics", "position", "custom")
        KivyConfig.set("graphics", "left", "0")
        KivyConfig.set("graphics", "top", "0")
    # a touch panel needs no hover cursor; the input providers SDL2 gives (mouse + touch) are enough
    for section in ("modules",):
        if KivyConfig.has_section(section):
            for name in list(KivyConfig.options(section)):
                KivyConfig.remove_option(section, name)
