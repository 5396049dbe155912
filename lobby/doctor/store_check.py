"""The store: present, readable, writable, sound (quick_check), schema version, room to grow."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from lobby.config import Config, state_path
from mqtt_bridge.store import SCHEMA_VERSION
from mqtt_bridge.store.migrations import can_open
from lobby.doctor.base import Check, Context, Result, fail, ok, warn

NAME = "store"
CHECK_BUDGET_S = 4.0  # quick_check is stopped after this; `lobby store info` runs the full check


def checks(cfg: Config) -> list[Check]:
    return [Check(NAME, run, timeout_s=6.0,
                  timeout_message="The store did not answer within 6 s: another program holds it, or the SD card is failing.",
                  timeout_fix="Run `lobby store info` and look at `journalctl -u lobby-gateway` for store errors.")]


def run(ctx: Context) -> list[Result]:
    cfg = ctx.cfg
    path = state_path(cfg, cfg.store.path)
    folder = path.parent
    try:
        present = path.exists()
    except PermissionError:
        return [fail(NAME, f"This user may not look into {folder}, where the store is.",
                     "Run `lobby doctor` as root or as the lobby user (sudo lobby doctor).", path=str(path))]
    if not present:
        existing = _existing_parent(folder)
        if os.access(existing, os.W_OK | os.X_OK):
            return [warn(NAME, f"The store {path} does not exist yet; the gateway creates it when it first starts.",
                         "Start the gateway: sudo systemctl start lobby-gateway", path=str(path))]
        return [fail(NAME, f"The store {path} does not exist and {existing} is not writable for this user.",
                     f"Run install.sh (it creates {cfg.state_dir} for the lobby user), or run `lobby doctor` as "
                     "root or as the lobby user (sudo -u lobby lobby doctor).", path=str(path))]
    if not os.access(path, os.R_OK | os.W_OK) or not os.access(folder, os.W_OK | os.X_OK):
        return [fail(NAME, f"This user cannot read and write the store {path}.",
                     "Run `lobby doctor` as root or as the lobby user (sudo -u lobby lobby doctor); the services "
                     f"run as lobby, which must own {folder}: sudo chown -R lobby:lobby {folder}", path=str(path))]
    try:
        conn = sqlite3.connect(str(path), timeout=2.0, isolation_level=None)
    except sqlite3.Error as exc:
        return [fail(NAME, f"The store {path} cannot be opened: {exc}.", _RESTORE_FIX, path=str(path))]
    try:
        return _inspect(conn, path, cfg)
    finally:
        conn.close()


_RESTORE_FIX = ("Stop the services and restore the newest good backup: `lobby restore` "
                "(see the operator guide, 'Back up and restore').")


def _inspect(conn: sqlite3.Connection, path: Path, cfg: Config) -> list[Result]:
    details: dict[str, object] = {"path": str(path)}
    try:
        header = conn.execute("PRAGMA schema_version").fetchone()[0]  # reads page 1: is it a database at all?
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        return [fail(NAME, f"The store {path} is not a readable database ({exc}).", _RESTORE_FIX, **details)]
    details.update(schema_version=version, software_schema_version=SCHEMA_VERSION, sqlite_schema_cookie=header)
    deadline = time.monotonic() + CHECK_BUDGET_S
    conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 20_000)
    try:
        verdict = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.OperationalError as exc:
        if "interrupt" in str(exc):
            verdict = None
        else:
            return [fail(NAME, f"The store {path} could not be checked: {exc}.", _RESTORE_FIX, **details)]
    except sqlite3.DatabaseError as exc:
        return [fail(NAME, f"The store {path} is damaged: {exc}.", _RESTORE_FIX, **details)]
    finally:
        conn.set_progress_handler(None, 0)
    if verdict is not None and verdict != ["ok"]:
        details["problems"] = verdict
        return [fail(NAME, f"The store {path} is damaged: {verdict[0]}.", _RESTORE_FIX, **details)]

    writable = _try_write_lock(conn)
    free_mb = _free_mb(path.parent)
    details.update(free_mb=round(free_mb, 1), integrity="ok" if verdict else "not finished", write_lock=writable)
    readable = version <= SCHEMA_VERSION or can_open(conn)
    if not readable:
        return [fail(NAME, f"The store {path} was written by newer software (schema {version}; this software knows "
                           f"up to {SCHEMA_VERSION}).",
                     "Install the newer lobby version again (sudo systemd/install.sh from its tree), or restore a "
                     "backup made by this version.", **details)]
    if writable == "refused":
        return [fail(NAME, f"The store {path} refuses writes (read-only file system or file).",
                     "Check `mount | grep ' / '` for a read-only remount (a failing SD card) and the file's owner.",
                     **details)]
    if free_mb < cfg.store.disk_min_free_mb:
        return [fail(NAME, f"Only {free_mb:.0f} MB are free next to the store (the minimum is "
                           f"{cfg.store.disk_min_free_mb} MB): new records will soon be refused.",
                     "Free space: delete old files in the backups folder, `sudo journalctl --vacuum-size=100M`, "
                     "or move backups to a USB stick.", **details)]
    notes = []
    if version < SCHEMA_VERSION:
        notes.append(f"schema {version} will be upgraded to {SCHEMA_VERSION} when the gateway starts")
    elif version > SCHEMA_VERSION:
        notes.append(f"schema {version}, written by a newer release that only added to it; this release "
                     f"(schema {SCHEMA_VERSION}) reads and writes it as it is")
    else:
        notes.append(f"schema {version}")
    if verdict is None:
        notes.append(f"the quick check was stopped after {CHECK_BUDGET_S:.0f} s (run `lobby store info` for the full check)")
    if writable == "busy":
        notes.append("a service was writing, so the write test was skipped")
    message = f"The store {path} is healthy ({'; '.join(notes)}; {free_mb:.0f} MB free)."
    if verdict is None:
        return [warn(NAME, message, "Run `lobby store info` when the lobby is quiet.", **details)]
    return [ok(NAME, message, **details)]


def _try_write_lock(conn: sqlite3.Connection) -> str:
    """Take the write lock and let go at once: 'ok', 'busy' or 'refused'. Changes nothing."""
    conn.execute("PRAGMA busy_timeout = 1500")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        text = str(exc).lower()
        return "busy" if "locked" in text or "busy" in text else "refused"
    conn.execute("ROLLBACK")
    return "ok"


def _free_mb(folder: Path) -> float:
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize / 1e6


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
