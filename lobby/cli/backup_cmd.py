"""`lobby backup`: a consistent copy of the store while the services keep running.

How: SQLite's online backup API (`sqlite3.Connection.backup`) copies the store in
steps of a few hundred pages. Before the first step the source connection opens a
read transaction and keeps it until the last one, so every step reads the same WAL
snapshot: the copy is exactly the store as it was at that moment, the kiosk and the
gateway go on writing (WAL writers never wait for readers), and the copy never
restarts because of their writes (it would, over and over, without the held snapshot).
The only cost to the services: the WAL cannot be checkpointed past the snapshot
while the copy runs, so it grows a little for those seconds.

Each copy is written as a hidden partial file, switched to a single self-contained
file (journal_mode=DELETE), checked with PRAGMA integrity_check, fsynced and only
then renamed to ``lobby-<UTC time>-s<seq>.db``. ``<seq>`` is the gateway's event
counter at the time of the copy; it only ever grows, so copies sort correctly even
when the Pi's clock was wrong (no battery clock). Only after a verified copy are old
copies beyond ``--keep`` deleted; files of other names are never touched.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lobby.cli.backup_files import PARTIAL_PREFIX, BackupFile, list_backups  # noqa: F401 - doctor reads them here
from lobby.cli.backup_target import after_card_copy
from lobby.cli.safefile import secure
from lobby.config import state_path
from mqtt_bridge.fsync import fsync_path
from lobby.cli.common import add_config_argument, load_or_explain

PAGES_PER_STEP = 256  # 1 MB with 4 KiB pages: each step is a few milliseconds


class BackupError(RuntimeError):
    pass


@dataclass
class BackupReport:
    path: Path
    bytes: int
    pages: int
    seconds: float
    seq: int
    kept: list[str]
    removed: list[str]

    def as_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "bytes": self.bytes, "pages": self.pages, "seconds": round(self.seconds, 3),
                "seq": self.seq, "integrity": "ok", "kept": self.kept, "removed": self.removed}


def backup_store(source: Path, dest_dir: Path, keep: int, pages: int = PAGES_PER_STEP,
                 busy_timeout_ms: int = 5000) -> BackupReport:
    """Copy `source` into `dest_dir`, verify it, then keep only the newest `keep` copies."""
    if not source.is_file():
        raise BackupError(f"there is no store at {source} to back up")
    dest_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(dest_dir)
    started = time.monotonic()
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    partial = dest_dir / f"{PARTIAL_PREFIX}{stamp}-{os.getpid()}.db"
    src = sqlite3.connect(str(source), timeout=busy_timeout_ms / 1000, isolation_level=None)
    try:
        src.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        src.execute("BEGIN")  # a read transaction: one snapshot for every step below
        seq = _seq(src)
        total_pages = int(src.execute("PRAGMA page_count").fetchone()[0])
        dst = sqlite3.connect(str(partial), isolation_level=None)
        try:
            src.backup(dst, pages=max(1, pages), sleep=0.05)
            src.execute("COMMIT")
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            verdict = [row[0] for row in dst.execute("PRAGMA integrity_check(5)")]
            if verdict != ["ok"]:
                raise BackupError(f"the copy failed PRAGMA integrity_check ({verdict[0]}); the store itself may be "
                                  "damaged: run `lobby store info`, keep the existing backups")
        finally:
            dst.close()
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    finally:
        src.close()
    fsync_path(partial)
    final = _free_name(dest_dir, stamp, seq)
    os.replace(partial, final)
    fsync_path(dest_dir)
    _match_owner(final, dest_dir)
    removed = []
    others = [b for b in list_backups(dest_dir) if b.path != final]  # the new copy is always kept
    for old in others[keep - 1:]:
        with contextlib.suppress(FileNotFoundError):
            old.path.unlink()
            removed.append(old.path.name)
    kept = [final.name] + [b.path.name for b in others[:keep - 1]]
    return BackupReport(final, final.stat().st_size, total_pages, time.monotonic() - started, seq, kept, removed)


def _seq(conn: sqlite3.Connection) -> int:
    try:
        row = conn.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()
    except sqlite3.OperationalError:  # a store without the outbox tables (never opened by the services)
        return 0
    return int(row[0]) if row else 0


def _free_name(folder: Path, stamp: str, seq: int) -> Path:
    path = folder / f"lobby-{stamp}-s{seq}.db"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"lobby-{stamp}-s{seq}-{n}.db"
    return path


def _remove_stale_partials(folder: Path) -> None:
    """Partial files of a copy that was killed (power cut) more than an hour ago."""
    for entry in folder.glob(f"{PARTIAL_PREFIX}*"):
        with contextlib.suppress(OSError):
            if time.time() - entry.stat().st_mtime > 3600:
                entry.unlink()


def _match_owner(path: Path, folder: Path) -> None:
    """Run as root (sudo lobby backup), give the copy to the folder's owner (lobby), mode 0600,
    through a descriptor opened without following links (lobby.cli.safefile)."""
    secure(path, 0o600, owner_of=folder)


# --------------------------------------------------------------------------- the command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--dest", metavar="DIR",
                        help="where to put the copy (default: [store] backup_dir, inside the state directory)")
    parser.add_argument("--keep", type=int, metavar="N",
                        help="copies to keep in that folder, newest first (default: [store] backup_keep)")
    parser.add_argument("--pages", type=int, default=PAGES_PER_STEP, metavar="N",
                        help=f"pages copied per step (default {PAGES_PER_STEP})")
    parser.add_argument("--target", choices=("card", "usb", "central"),
                        help="where the copy goes besides the card (default: [store] backup_target)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def run(args: argparse.Namespace) -> int:
    cfg = load_or_explain(args)
    source = state_path(cfg, cfg.store.path)
    dest = Path(args.dest) if args.dest else state_path(cfg, cfg.store.backup_dir)
    keep = args.keep if args.keep is not None else cfg.store.backup_keep
    if keep < 1:
        print("--keep must be at least 1", file=sys.stderr)
        return 2
    try:
        report = backup_store(source, dest, keep, args.pages, cfg.store.busy_timeout_ms)
    except (BackupError, sqlite3.Error, OSError) as exc:
        print(f"backup failed, no new copy was made and no old copy was removed: {exc}", file=sys.stderr)
        return 1
    target = args.target or cfg.store.backup_target
    try:
        placed, warning = after_card_copy(target, report.path, source, usb_dir=state_path(cfg, cfg.store.backup_usb_dir),
                                          state_dir=Path(cfg.state_dir), keep=keep,
                                          busy_timeout_ms=cfg.store.busy_timeout_ms)
    except (sqlite3.Error, OSError, RuntimeError) as exc:
        print(f"the copy {report.path.name} is on the card, but sending it to the {target} target failed: {exc}",
              file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({**report.as_dict(), **placed}))
    else:
        print(f"backed up {source} to {report.path} ({report.bytes / 1e6:.1f} MB, {report.seconds:.1f} s, "
              f"integrity ok, seq {report.seq})")
        print(f"kept {len(report.kept)} copies in {dest}" +
              (f"; removed {', '.join(report.removed)}" if report.removed else ""))
        if placed.get("usb"):
            print(f"copied to the backup stick: {placed['usb']} (kept {len(placed['usb_kept'])} there)")
        if target == "central":
            print(f"queued for upload to central: {placed['backup_id']} in {placed['chunks']} chunks "
                  "(the gateway sends them)")
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return 0
