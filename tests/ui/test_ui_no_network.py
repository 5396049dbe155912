"""The kiosk starts and serves visitors on a machine without network and without the gateway.

lobby-kiosk.service no longer waits for lobby-gateway.service or network-online.target
(tests/deploy/test_deploy_boot_order.py); this is the other half: the app itself needs neither.
No gateway process runs, the broker in the config is unreachable (nothing listens on its port),
and where the machine allows it the app runs in a network namespace of its own, with no
interface up at all (`unshare --net`: not even loopback), as after a boot with the cable out.
It must show its home screen, report ready, and keep a visitor's feedback in the store with its
event queued in the outbox for the gateway to send later.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk_driver import Kiosk, write_config

from lobby.config import load_config, state_path
from mqtt_bridge.store import Store
from tests.helpers.broker import free_port


def _no_network() -> tuple[str, ...]:
    """`unshare --net` where this machine lets us make a network namespace (root, not forbidden)."""
    if shutil.which("unshare") and subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0:
        return ("unshare", "--net")
    return ()


def test_kiosk_shows_home_without_network_or_gateway(display: Callable[[int, int], Any], tmp_path: Path) -> None:
    port = free_port()  # bound and released at once: nothing listens there
    config = write_config(tmp_path / "lobby.toml", tmp_path / "state", port,
                          kiosk="idle_timeout_s = 3600\nscreensaver_after_s = 3600")
    wrap = _no_network()
    kiosk = Kiosk(display(800, 480), config, tmp_path, lang="zh", wrap=wrap).start()
    try:
        m = kiosk.map()
        assert m["screen"] == "home" and kiosk.ready()
        assert {"checkin", "feedback", "ticket"} <= set(m["widgets"])
        if wrap:  # the app really is in a namespace of its own, whose only interface is loopback (down)
            assert kiosk.proc is not None
            pid = kiosk.proc.pid
            assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
            devices = [line.split(":")[0].strip() for line in Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]]
            assert devices == ["lo"]
        kiosk.click("feedback")
        kiosk.wait_screen("fb_faces")
        kiosk.click("face_very_happy")
        kiosk.wait_screen("fb_thanks")
        assert kiosk.alive()
    finally:
        kiosk.stop()
    cfg = load_config(config)
    store = Store(state_path(cfg, cfg.store.path))
    try:
        assert len(store.query("SELECT id FROM feedback")) == 1
        queued = store.query("SELECT type FROM outbox")
        assert any(r["type"] == "feedback.press" for r in queued), queued
    finally:
        store.close()
