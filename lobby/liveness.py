"""The kiosk's heartbeat: what the kiosk writes, and how the gateway judges it.

The kiosk writes `kiosk.heartbeat` into the store's meta every HEARTBEAT_S (lobby/kiosk_runtime.py);
the gateway's health report (lobby/gateway/health.py) reads it and tells central whether the screen
is alive. Both run on the same Pi, so the age is taken on CLOCK_MONOTONIC (the same clock for every
process of one boot, deaf to NTP steps); a heartbeat from another boot is stale by definition.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from mqtt_bridge.timebase import BOOT_ID, rfc3339, utc_now

HEARTBEAT_META = "kiosk.heartbeat"
HEARTBEAT_S = 10.0

ALIVE, STALE, MISSING, BLANK = "alive", "stale", "missing", "blank"

FIX = {
    MISSING: "The kiosk has not started on this Pi since the gateway did. Look at the screen, then run "
             "`systemctl status lobby-kiosk` and `journalctl -u lobby-kiosk -b` to see why it does not start. "
             "On a Pi without a screen set [alerts] kiosk_stale_after_s = 0.",
    STALE: "The kiosk stopped answering. Run `sudo systemctl restart lobby-kiosk`; if the screen stays dark "
           "or frozen, `journalctl -u lobby-kiosk -b` says why it stopped, and a reboot of the Pi is the next step.",
    BLANK: "The kiosk runs but has never drawn its screen. Check the display's power and cable (HDMI or DSI), "
           "then `journalctl -u lobby-kiosk -b` for display errors.",
}


def heartbeat(*, started_ts: str, started_mono_s: float, screen: str, shown: bool, last_touch_ts: str | None,
              version: str, config_version: int) -> str:
    """One heartbeat as the kiosk stores it (JSON): no visitor data, only the screen's name and times."""
    return json.dumps({"ts": rfc3339(utc_now()), "boot_id": BOOT_ID, "mono_s": round(time.monotonic(), 3),
                       "pid": os.getpid(), "started_ts": started_ts, "started_mono_s": round(started_mono_s, 3),
                       "screen": screen, "shown": shown, "last_touch_ts": last_touch_ts, "version": version,
                       "config_version": config_version})


def assess(raw: str | None, stale_after_s: float, *, now_mono: float | None = None,
           boot_id: str = BOOT_ID) -> dict[str, Any]:
    """The kiosk's state for the health report: alive, stale, missing (never written) or blank
    (beating, but no frame drawn for stale_after_s since it started), with what the beat said."""
    now_mono = time.monotonic() if now_mono is None else now_mono
    try:
        beat = json.loads(raw) if raw else None
        if beat is not None and not isinstance(beat, dict):
            beat = None
    except ValueError:
        beat = None
    if beat is None:
        return {"state": MISSING, "age_s": None, "screen": None, "shown": False, "last_touch_ts": None,
                "last_seen_ts": None, "version": None, "config_version": None}
    same_boot = beat.get("boot_id") == boot_id
    age = round(max(0.0, now_mono - float(beat.get("mono_s", 0.0))), 1) if same_boot else None
    state = ALIVE
    if age is None or age > stale_after_s:
        state = STALE
    elif not beat.get("shown") and now_mono - float(beat.get("started_mono_s", now_mono)) > stale_after_s:
        state = BLANK
    return {"state": state, "age_s": age, "screen": beat.get("screen"), "shown": bool(beat.get("shown")),
            "last_touch_ts": beat.get("last_touch_ts"), "last_seen_ts": beat.get("ts"),
            "version": beat.get("version"), "config_version": beat.get("config_version")}
