"""How the gateway judges the kiosk's heartbeat (lobby/liveness.py): the states the health report carries."""

from __future__ import annotations

import json

from lobby.liveness import FIX, assess, heartbeat


def _beat(shown: bool = True, started_mono_s: float = 0.0) -> str:
    return heartbeat(started_ts="2024-01-01T00:00:00.000Z", started_mono_s=started_mono_s, screen="home",
                     shown=shown, last_touch_ts=None, version="t", config_version=3)


def test_states() -> None:
    beat = json.loads(_beat())
    now = beat["mono_s"]
    assert assess(None, 60, now_mono=now)["state"] == "missing"
    assert assess("not json", 60, now_mono=now)["state"] == "missing"
    alive = assess(_beat(), 60, now_mono=now + 5)
    assert alive["state"] == "alive" and alive["age_s"] == 5.0 and alive["config_version"] == 3
    assert assess(_beat(), 60, now_mono=now + 61)["state"] == "stale"
    other_boot = json.dumps({**beat, "boot_id": "another"})
    assert assess(other_boot, 60, now_mono=now)["state"] == "stale"
    # Beating, but no frame drawn for longer than the stale time since it started: a blank screen.
    assert assess(_beat(shown=False, started_mono_s=now - 100), 60, now_mono=now + 1)["state"] == "blank"
    assert assess(_beat(shown=False, started_mono_s=now - 5), 60, now_mono=now + 1)["state"] == "alive"
    assert set(FIX) == {"missing", "stale", "blank"}
