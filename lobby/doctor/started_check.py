"""Has the gateway started on this release, and did the broker acknowledge it? (`--only started`)

lobby-release's health gate asks this after a switch: a release is healthy only when the
gateway process running it has published its `gateway.started` with this release's
version and the broker acknowledged it (PUBACK), since the switch.

What the store records (lobby/runtime.py): each gateway process, as it starts, emits
`gateway.started` {"version": ...} into the outbox (the critical lane: never dropped by
the budget) and writes the event's seq and version into meta `gateway.started`. The
outbox row is deleted only once the broker acknowledged it, so "the row is gone" is the
round trip through the broker.

"Since the switch", by the boot's own clock when lobby-release gives it: the seconds since boot
at the switch (`$LOBBY_RELEASE_SWITCHED_UPTIME`, /proc/uptime) and that boot's id
(`$LOBBY_RELEASE_SWITCHED_BOOT`). The gateway records the same clock (CLOCK_BOOTTIME) with its
start, so a wall clock stepped by the first NTP sync in between changes nothing; a start
recorded in another boot came before the switch (the gate runs in the switch's boot). Without them (`lobby-release gate` alone), by the wall clock:
`$LOBBY_RELEASE_SWITCHED_AT` (seconds since the epoch), or else, when this doctor runs from
/opt/lobby/releases/NAME, the time the `current` link beside it was last switched. Without any,
any start of this version counts.

Opt-in: a plain `lobby doctor` does not run it (a kiosk-only Pi, or a stopped gateway, is not
a fault); `lobby doctor --only started` does.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

from lobby.config import Config, state_path
from lobby.doctor.base import Check, Context, Result, fail, ok

NAME = "started"
OPT_IN = True  # run only when named in --only (lobby/doctor/runner.py)
STARTED_META = "gateway.started"  # lobby.runtime.STARTED_META (not imported: that pulls in the whole bridge)
SWITCHED_ENV = "LOBBY_RELEASE_SWITCHED_AT"
SWITCHED_UPTIME_ENV = "LOBBY_RELEASE_SWITCHED_UPTIME"
SWITCHED_BOOT_ENV = "LOBBY_RELEASE_SWITCHED_BOOT"


def started_after_switch_by_boot_clock(started: dict) -> bool | None:
    """Whether this start came after the switch, by the boot's clock; None when that cannot be told."""
    uptime, boot = os.environ.get(SWITCHED_UPTIME_ENV, "").strip(), os.environ.get(SWITCHED_BOOT_ENV, "").strip()
    mono_ns, started_boot = started.get("mono_ns"), started.get("boot_id")
    if not uptime or not boot or not isinstance(mono_ns, int) or not isinstance(started_boot, str):
        return None
    try:
        at_switch = float(uptime)
    except ValueError:
        return None
    if started_boot != boot:
        return False  # the gate runs in the switch's boot: a start recorded in another boot came before it
    return mono_ns / 1e9 >= at_switch - 0.01


def checks(cfg: Config) -> list[Check]:
    return [Check(NAME, run, timeout_s=5.0,
                  timeout_message="The store did not answer within 5 s, so the gateway's start could not be read.",
                  timeout_fix="Look at `journalctl -u lobby-gateway -n 50` and run `lobby doctor --only store`.")]


def _this_version() -> str:
    from mqtt_bridge.version import VERSION

    return VERSION


def switched_at() -> float | None:
    """When the release in use was switched to (seconds since the epoch), if known."""
    given = os.environ.get(SWITCHED_ENV, "").strip()
    if given:
        try:
            return float(given)
        except ValueError:
            return None
    prefix = Path(sys.prefix)
    current = prefix.parent.parent / "current"
    if prefix.parent.name == "releases" and current.is_symlink():
        try:
            if Path(os.path.realpath(current)) == Path(os.path.realpath(prefix)):
                return current.lstat().st_mtime
        except OSError:
            return None
    return None


def _epoch(ts: str) -> float | None:
    from mqtt_bridge.timebase import parse_rfc3339

    try:
        return parse_rfc3339(ts).timestamp()
    except (TypeError, ValueError):
        return None


def run(ctx: Context) -> list[Result]:
    cfg = ctx.cfg
    path = state_path(cfg, cfg.store.path)
    version = _this_version()
    fix_start = "Start the gateway on this release: sudo systemctl restart lobby-gateway; then journalctl -u lobby-gateway -n 50"
    if not path.exists():
        return [fail(NAME, f"The store {path} does not exist: the gateway has never started here.", fix_start,
                     path=str(path))]
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0, isolation_level=None)
    except sqlite3.Error as exc:
        return [fail(NAME, f"The store {path} cannot be opened: {exc}.", "Run `lobby doctor --only store`.")]
    try:
        conn.execute("PRAGMA busy_timeout = 2000")
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (STARTED_META,)).fetchone()
        started = json.loads(row[0]) if row else None
        seq = started.get("seq") if isinstance(started, dict) else None
        pending = (conn.execute("SELECT 1 FROM outbox WHERE seq = ?", (seq,)).fetchone() is not None
                   if isinstance(seq, int) else None)
    except (sqlite3.Error, ValueError) as exc:
        return [fail(NAME, f"The gateway's start could not be read from the store {path}: {exc}.",
                     "Run `lobby doctor --only store`.")]
    finally:
        conn.close()
    if not isinstance(started, dict) or not isinstance(seq, int):
        return [fail(NAME, f"No gateway has recorded its start in {path} yet (release {version}).", fix_start)]
    details = {"version": started.get("version"), "seq": seq, "ts": started.get("ts"), "release": version}
    if started.get("version") != version:
        return [fail(NAME, f"The gateway that started last runs {started.get('version')}, not this release "
                           f"{version}: it has not been restarted on it yet.", fix_start, **details)]
    before_switch = f"The gateway last started on {version} at {started.get('ts')}, before the switch to it: " \
                    "it has not been restarted since."
    by_boot = started_after_switch_by_boot_clock(started)
    if by_boot is not None:
        details["judged_by"] = "boot clock"
        if not by_boot:
            return [fail(NAME, before_switch, fix_start, **details)]
    else:
        since = switched_at()
        at = _epoch(str(started.get("ts", "")))
        if since is not None:
            details["switched_at"] = since
            if at is None or at < since - 0.01:  # its ts is in whole milliseconds
                return [fail(NAME, before_switch, fix_start, **details)]
    if pending:
        return [fail(NAME, f"The gateway started on {version} (event {seq}), but the broker has not acknowledged "
                           "its gateway.started yet.",
                     "Check the broker link: lobby doctor --only broker; journalctl -u lobby-gateway -n 50",
                     **details)]
    return [ok(NAME, f"The gateway started on {version} at {started.get('ts')} and the broker acknowledged its "
                     f"gateway.started (event {seq}).", **details)]
