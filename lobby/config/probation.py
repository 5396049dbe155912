"""A pushed config on probation: kept once it has reached the broker, otherwise put back.

central's `config.update` replaces lobby.toml (the old file stays as `lobby.toml.previous`)
and the gateway restarts on it. A config that cuts the gateway off (a dead broker port or
host, a certificate that does not verify, a central-settable key that makes the gateway
crash) would otherwise stay for good: with no link, central cannot send a fix. So every
push starts a probation, kept in `lobby.toml.probation` beside the config (JSON, written
atomically):

- `begin()` (the config.update handler, before the new file is written) opens it;
- `at_start()` (each `lobby gateway` / `lobby bridge` start, before the config is even
  loaded) counts the start and puts the previous file back at once when the probation
  time has run out or the gateway has started `MAX_STARTS` times on the new version
  without reaching the broker (a crash loop);
- the running gateway (lobby/probation.py) `keep()`s it when the broker acknowledged an
  event published after the restart on the new config (the PUBACK of `gateway.started`),
  or `revert()`s and restarts when the time runs out.

The time on probation is measured on the monotonic clock of the boot it runs in (a Pi
has no battery clock); a reboot carries the time spent so far into the next boot. A
reverted version is remembered (`rejected`) and refused if it is pushed again, and the
file put back is never itself on probation: no revert loop can happen.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mqtt_bridge.fsync import fsync_path
from mqtt_bridge.timebase import BOOT_ID

log = logging.getLogger(__name__)

SUFFIX = ".probation"
MAX_STARTS = 4  # starts on a pushed version without reaching the broker before it is reverted at once
REJECTED_KEEP = 20  # reverted versions remembered


@dataclass
class Probation:
    status: str  # probation | kept | reverted | abandoned
    version: int  # the pushed version
    previous_version: int
    probation_s: float
    boot_id: str = BOOT_ID
    started_mono: float = field(default_factory=time.monotonic)  # on boot_id's monotonic clock
    carried_s: float = 0.0  # time on probation spent in earlier boots
    elapsed_s: float = 0.0  # the last time on probation written down (for the next boot)
    starts: int = 0  # gateway starts on the pushed version while on probation
    last_error: str | None = None  # the bridge's last error, as seen by the running gateway
    reason: str | None = None  # why it was reverted
    reported: bool = False  # config.reverted has been written to the outbox
    ts: str = ""  # when the status last changed (UTC, for people)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # [{version, reason, ts}], newest last

    def elapsed(self, now_mono: float | None = None) -> float:
        if self.boot_id != BOOT_ID:
            return self.elapsed_s
        now_mono = time.monotonic() if now_mono is None else now_mono
        return self.carried_s + max(0.0, now_mono - self.started_mono)

    def remaining(self, now_mono: float | None = None) -> float:
        return self.probation_s - self.elapsed(now_mono)


def state_path(config_path: Path) -> Path:
    return config_path.with_name(config_path.name + SUFFIX)


def load(config_path: Path) -> Probation | None:
    path = state_path(config_path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        known = {f for f in Probation.__dataclass_fields__}
        return Probation(**{k: v for k, v in raw.items() if k in known})
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        log.error("the probation record %s cannot be read (%s); it is ignored", path, type(exc).__name__)
        return None


def save(config_path: Path, state: Probation) -> None:
    """Write the record so that a crash leaves the old or the new one, never half of either."""
    path = state_path(config_path)
    state.ts = _now()
    tmp = path.with_name(path.name + ".new")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(asdict(state), ensure_ascii=False, indent=1))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_path(path.parent)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def file_version(config_path: Path) -> int | None:
    """The `version` the file on disk says, without validating the rest (None if unreadable)."""
    try:
        version = tomllib.loads(config_path.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None
    return version if isinstance(version, int) else None


# ------------------------------------------------------------------ the config.update handler


def refusal(config_path: Path, version: int) -> str | None:
    """Why a push of `version` is refused here (a probation is open, or it was reverted), or None."""
    state = load(config_path)
    if state is None:
        return None
    for entry in state.rejected:
        if entry.get("version") == version:
            return (f"version {version} was reverted on this gateway at {entry.get('ts')} (see its config.reverted); "
                    "it is not applied again: push a newer version")
    if state.status == "probation" and file_version(config_path) == state.version:
        return (f"version {state.version} is still on probation (waiting for its first PUBACK); "
                "send the next version once config.kept or config.reverted has arrived")
    return None


def begin(config_path: Path, version: int, previous_version: int, probation_s: float) -> None:
    """Open the probation of a push (before the new file replaces the old one)."""
    old = load(config_path)
    save(config_path, Probation("probation", version, previous_version, float(probation_s),
                                rejected=old.rejected if old else []))


# ------------------------------------------------------------------ a gateway start


@dataclass
class StartDecision:
    """What a start found: a probation to watch, a revert to report, or nothing."""

    watch: Probation | None = None  # on probation: keep or revert within watch.remaining()
    report: Probation | None = None  # reverted, config.reverted not yet written
    reverted_now: bool = False  # at_start put the previous file back itself


def at_start(config_path: Path) -> StartDecision:
    """Called before the config is loaded: count the start, revert at once if the time is up."""
    state = load(config_path)
    if state is None:
        return StartDecision()
    on_disk = file_version(config_path)
    if state.status == "reverted":
        if on_disk == state.version:  # a crash between the record and the file: finish the revert
            _put_back(config_path, state)
        return StartDecision(report=None if state.reported else state)
    if state.status != "probation":
        return StartDecision()
    if on_disk is not None and on_disk != state.version:
        # The push never landed (a crash before the file was replaced), or a person on site
        # has written another file since: that one is not on probation.
        state.status = "abandoned"
        save(config_path, state)
        log.info("configuration version %s is no longer on probation (the file says %s)", state.version, on_disk)
        return StartDecision()
    if state.boot_id != BOOT_ID:  # rebooted during the probation: carry the time spent so far
        state.carried_s, state.boot_id, state.started_mono = state.elapsed_s, BOOT_ID, time.monotonic()
    state.starts += 1
    state.elapsed_s = state.elapsed()
    if state.elapsed_s >= state.probation_s:
        revert(config_path, state, _why_timeout(state))
        return StartDecision(report=state, reverted_now=True)
    if state.starts > MAX_STARTS:
        revert(config_path, state, f"the gateway started {state.starts} times on version {state.version} "
                                   f"without reaching the broker{_last_error(state)}")
        return StartDecision(report=state, reverted_now=True)
    save(config_path, state)
    log.warning("configuration version %s is on probation: it must reach the broker within %.0f s more "
                "or version %s is put back (start %d)", state.version, state.remaining(), state.previous_version,
                state.starts)
    return StartDecision(watch=state)


def _why_timeout(state: Probation) -> str:
    return (f"version {state.version} did not reach the broker (no PUBACK) within "
            f"{state.probation_s:.0f} s{_last_error(state)}")


def _last_error(state: Probation) -> str:
    """The link's last error, without file paths (the reason goes to central)."""
    if not state.last_error:
        return ""
    return "; last error: " + re.sub(r"(?<![\w.])/[^\s;,()]+", "<path>", state.last_error)


# ------------------------------------------------------------------ the outcome


def keep(config_path: Path, state: Probation) -> None:
    state.status = "kept"
    state.elapsed_s = state.elapsed()
    save(config_path, state)
    log.info("configuration version %s reached the broker: kept", state.version)


def note(config_path: Path, state: Probation, last_error: str | None) -> None:
    """Write down the time spent and the link's last error (for a restart or a reboot)."""
    state.elapsed_s = state.elapsed()
    if last_error:
        state.last_error = last_error[:300]
    with contextlib.suppress(OSError):
        save(config_path, state)


def timed_out(config_path: Path, state: Probation) -> None:
    revert(config_path, state, _why_timeout(state))


def revert(config_path: Path, state: Probation, reason: str) -> None:
    """Record the revert first, then put the previous file back (at_start finishes a half-done one)."""
    state.elapsed_s = state.elapsed()
    state.status, state.reason, state.reported = "reverted", reason[:500], False
    state.rejected = (state.rejected + [{"version": state.version, "reason": state.reason, "ts": _now()}])[-REJECTED_KEEP:]
    save(config_path, state)
    _put_back(config_path, state)
    log.error("configuration version %s reverted to version %s: %s", state.version, state.previous_version, reason)


def _put_back(config_path: Path, state: Probation) -> None:
    previous = config_path.with_name(config_path.name + ".previous")
    try:
        text = previous.read_text(encoding="utf-8")
    except OSError as exc:
        log.critical("cannot put the previous configuration back: %s is not readable (%s)", previous, exc.strerror)
        return
    rejected = config_path.with_name(config_path.name + ".rejected")
    with contextlib.suppress(OSError):
        rejected.write_bytes(config_path.read_bytes())  # for the engineers: what was pushed
    tmp = config_path.with_name(config_path.name + ".new")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, config_path)
    fsync_path(config_path.parent)


def mark_reported(config_path: Path, state: Probation) -> None:
    state.reported = True
    save(config_path, state)
