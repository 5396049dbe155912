"""Starting the kiosk: Kivy's settings first (kiosk.boot), then the app (no Kivy import above)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def run(cfg: Any, config_path: Path | None, *, simulate: bool = False, windowed: bool = False,
        size: tuple[int, int] | None = None, lang: str | None = None) -> int:
    from kiosk import boot

    boot.prepare(cfg, size=size, fullscreen=False if (windowed or size is not None) else None)
    from kiosk.app import KioskApp
    from lobby.kiosk_runtime import KioskRuntime

    runtime = KioskRuntime(cfg, config_path, simulate=simulate)
    # Closing the window is allowed only for a development window; production ignores it.
    app = KioskApp(runtime, simulate=simulate, allow_close=windowed,
                   test_map=os.environ.get("LOBBY_KIOSK_TEST_MAP") or None)
    if lang in ("zh", "en"):
        app.default_lang = app.lang = lang
    app.run()
    if app.reload_requested:
        return _restart()
    return 0


def _restart() -> int:
    """The config changed: under systemd end cleanly (Restart=always starts the kiosk on the new file);
    elsewhere run the same command line again."""
    import sys

    if os.environ.get("INVOCATION_ID"):
        return 0
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "lobby.cli", *sys.argv[1:]])
    return 0  # not reached
