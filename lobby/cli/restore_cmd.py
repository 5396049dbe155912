"""`lobby restore FILE`: put a backup back as the store, keeping the current file aside.

The procedure (the operator guide has it for staff):

1. Stop everything that uses the store:
   ``sudo systemctl stop lobby-kiosk lobby-gateway lobby-backup.timer lobby-purge.timer``
   (restore refuses while any process has the store open, and names it).
2. ``sudo -u lobby lobby restore /var/lib/lobby/backups/lobby-...db`` (or as root). From the
   backup stick (``[store] backup_target = "usb"``): mount it (``sudo mount /media/lobby-backup``)
   and, as root, ``sudo lobby restore /media/lobby-backup/lobby-...db``; from central: the file
   central reassembled from the ``backup.chunk`` events, copied onto the Pi.
   The backup is checked first (integrity_check, schema not newer than this software).
   The current store is checkpointed and renamed ``lobby.db.before-restore-<time>``
   (with its -wal/-shm if it could not be checkpointed), never deleted.
3. Start again: ``sudo systemctl start lobby-gateway lobby-kiosk lobby-backup.timer lobby-purge.timer``.

Events recorded after the backup was taken are not in it. So that central notices the
gap instead of seeing event numbers used twice, the event counter (seq) continues from
the highest of: the backup's, the current store's (when it can still be read), and
``--seq-floor`` (the last seq central saw, for when the current store is lost). Events
that were still queued in the backup are sent again; central drops the duplicates by id.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path

from lobby.cli.safefile import secure
from lobby.config import state_path
from mqtt_bridge.fsync import fsync_path
from mqtt_bridge.store import SCHEMA_VERSION
from mqtt_bridge.store.migrations import can_open
from lobby.cli.common import add_config_argument, load_or_explain

SERVICES = ("lobby-gateway.service", "lobby-kiosk.service", "lobby-backup.service", "lobby-purge.service")
STOP_HINT = "sudo systemctl stop lobby-kiosk lobby-gateway lobby-backup.timer lobby-purge.timer"
START_HINT = "sudo systemctl start lobby-gateway lobby-kiosk lobby-backup.timer lobby-purge.timer"
_SHM_DMS = 128  # SQLite's unix VFS: every connection holds a read lock on this byte of the -shm file


class RestoreError(RuntimeError):
    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("file", metavar="FILE", help="the backup to restore (lobby-<time>-s<seq>.db)")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--seq-floor", type=int, default=0, metavar="N",
                        help="continue the event counter after at least N (the last seq central has seen); "
                             "needed only when the current store is lost or unreadable")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def run(args: argparse.Namespace) -> int:
    cfg = load_or_explain(args)
    live = state_path(cfg, cfg.store.path)
    backup = Path(args.file)
    try:
        info = inspect_backup(backup)
        users = store_users(live)
        if users:
            raise RestoreError(f"the store {live} is in use ({users}). Stop the services first: {STOP_HINT}", 3)
        if not args.yes and not _confirm(backup, live, info):
            print("nothing was changed", file=sys.stderr)
            return 2
        result = restore(backup, live, seq_floor=args.seq_floor, busy_timeout_ms=cfg.store.busy_timeout_ms)
    except RestoreError as exc:
        print(f"restore refused: {exc}", file=sys.stderr)
        return exc.status
    if args.json:
        print(json.dumps(result))
    else:
        print(f"restored {backup} as {live} (schema {result['schema_version']}, events continue after seq "
              f"{result['seq']})")
        if result["previous"]:
            print(f"the store that was there is kept as {result['previous']}; delete it once all is well")
        print(f"next: {START_HINT}")
        print("records made after the backup was taken are not in it")
    return 0


def inspect_backup(path: Path) -> dict[str, int]:
    """Check that `path` is a sound store this software can use."""
    if not path.is_file():
        raise RestoreError(f"{path} does not exist", 2)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise RestoreError(f"{path} cannot be opened: {exc}") from None
    try:
        verdict = [row[0] for row in conn.execute("PRAGMA integrity_check(5)")]
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        seq = int(conn.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0])
        readable = version <= SCHEMA_VERSION or can_open(conn)
    except sqlite3.DatabaseError as exc:
        raise RestoreError(f"{path} is not a lobby store backup: {exc}") from None
    finally:
        conn.close()
    if verdict != ["ok"]:
        raise RestoreError(f"{path} is damaged (integrity_check: {verdict[0]}); try an older backup")
    if not readable:
        raise RestoreError(f"{path} was made by newer software (schema {version}, this software knows up to "
                           f"{SCHEMA_VERSION}); install that version first")
    return {"schema_version": version, "seq": seq}


def store_users(live: Path) -> str:
    """Who has the store open: running lobby services, or any process holding it (by pid)."""
    found = []
    if os.path.isdir("/run/systemd/system") and shutil.which("systemctl"):
        for unit in SERVICES:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                if subprocess.run(["systemctl", "is-active", "--quiet", unit], timeout=3).returncode == 0:
                    found.append(unit)
    pid = _shm_lock_holder(Path(str(live) + "-shm"))
    if pid:
        found.append(f"process {pid}")
    return ", ".join(found)


def _shm_lock_holder(shm: Path) -> int | None:
    try:
        fd = os.open(shm, os.O_RDONLY)
    except OSError:
        return None
    try:
        query = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, _SHM_DMS, 1, 0)
        kind, _, _, _, pid = struct.unpack("hhqqi", fcntl.fcntl(fd, fcntl.F_GETLK, query))
    except OSError:
        return None
    finally:
        os.close(fd)
    return None if kind == fcntl.F_UNLCK else pid


def _confirm(backup: Path, live: Path, info: dict[str, int]) -> bool:
    if not sys.stdin.isatty():
        print("restore replaces the store; run it with --yes to confirm (not interactive)", file=sys.stderr)
        return False
    print(f"This replaces the store {live}\n  with the backup {backup} (schema {info['schema_version']}, "
          f"seq {info['seq']}).\nThe current store is kept beside it. Records made after the backup are not in it.")
    return input("Type yes to go on: ").strip().lower() == "yes"


def restore(backup: Path, live: Path, seq_floor: int = 0, busy_timeout_ms: int = 5000) -> dict[str, object]:
    """Build the new store beside the live one, move the live one aside, put the new one in place."""
    info = inspect_backup(backup)
    live.parent.mkdir(parents=True, exist_ok=True)
    current_seq = _checkpoint_and_seq(live, busy_timeout_ms) if live.exists() else None
    seq = max(info["seq"], current_seq or 0, seq_floor)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    staging = live.with_name(f".{live.name}.restoring-{os.getpid()}")
    try:
        _build(backup, staging, seq, stamp)
    except BaseException:
        with contextlib.suppress(OSError):
            staging.unlink()
        raise
    previous = None
    if live.exists():
        previous = live.with_name(f"{live.name}.before-restore-{stamp}")
        os.replace(live, previous)
        for suffix in ("-wal", "-shm", "-journal"):
            side = Path(str(live) + suffix)
            if side.exists():
                os.replace(side, Path(str(previous) + suffix))
    try:
        os.replace(staging, live)
    except OSError:
        if previous is not None:
            os.replace(previous, live)
        raise
    fsync_path(live.parent)
    _match_owner(live)
    return {"restored": str(backup), "store": str(live), "previous": str(previous) if previous else None,
            "schema_version": info["schema_version"], "backup_seq": info["seq"], "previous_seq": current_seq,
            "seq": seq}


def _checkpoint_and_seq(live: Path, busy_timeout_ms: int) -> int | None:
    """Fold the WAL into the current file and read its event counter; None if it is unreadable."""
    try:
        conn = sqlite3.connect(str(live), timeout=busy_timeout_ms / 1000, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try:
            return int(conn.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0])
        except (sqlite3.Error, TypeError):
            return None
    finally:
        conn.close()


def _build(backup: Path, staging: Path, seq: int, stamp: str) -> None:
    src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True, isolation_level=None)
    dst = sqlite3.connect(str(staging), isolation_level=None)
    try:
        src.backup(dst)
        dst.execute("BEGIN IMMEDIATE")
        dst.execute("UPDATE counters SET value = ? WHERE name = 'seq' AND value < ?", (seq, seq))
        for key, value in (("restored_from", backup.name), ("restored_at", stamp), ("restored_seq", str(seq))):
            dst.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))
        dst.execute("COMMIT")
        verdict = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise RestoreError(f"the restored copy failed its integrity check ({verdict}); nothing was changed")
    finally:
        dst.close()
        src.close()
    fsync_path(staging)
    secure(staging, 0o600)


def _match_owner(path: Path) -> None:
    """Run as root, hand the restored file to the state folder's owner (the lobby user), through a
    descriptor opened without following links (lobby.cli.safefile)."""
    secure(path, 0o600, owner_of=path.parent)
