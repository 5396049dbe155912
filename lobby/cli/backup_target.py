"""Where the nightly backup goes besides the card: `[store] backup_target`.

- ``card``: only ``[store] backup_dir`` on the SD card (what `lobby backup` always makes first).
- ``usb``: also a copy on the stick mounted at ``[store] backup_usb_dir``, newest
  ``backup_keep`` kept there. Written only when that folder really is a mount point
  on another device than the state directory: a stick that is not plugged in leaves
  an empty folder on the card, and a "backup" written there would wear the card and
  die with it. Otherwise the card copy stays and the retained alert ``backup.usb_missing``
  says in plain words what to do; the next good copy clears it.
- ``central``: the card copy is registered for upload; the gateway sends it in chunks
  (lobby/gateway/backup_upload.py).

The stick copy is written atomically: a hidden temp file (mode 0600, created exclusively,
never through a link), fsynced, read back and compared by sha256, renamed to the backup's
name and the folder fsynced. Messages name files, never anything inside them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mqtt_bridge.alerts import AlertEngine, Severity
from mqtt_bridge.fsync import fsync_path
from mqtt_bridge.store import Store

from lobby.cli.backup_files import PARTIAL_PREFIX, list_backups
from lobby.gateway.backup_upload import file_sha256, register_upload

USB_ALERT = "backup.usb_missing"
_BLOCK = 1 << 20


class StickMissing(RuntimeError):
    """The stick is not there (or is not a separate device); `reason` is one word for the alert."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class StickCopy:
    path: Path
    kept: list[str]
    removed: list[str]


def _device(path: Path) -> int:
    return os.stat(path).st_dev


def check_stick(usb_dir: Path, state_dir: Path, is_mount: Callable[[str], bool] = os.path.ismount,
                device_of: Callable[[Path], int] = _device) -> None:
    """Raise StickMissing unless `usb_dir` is a mount point on another device than `state_dir`
    (both checks injectable: the tests stand a temp folder in for the stick)."""
    if not usb_dir.is_dir():
        raise StickMissing(f"{usb_dir} does not exist", "not_mounted")
    if not is_mount(str(usb_dir)):
        raise StickMissing(f"nothing is mounted at {usb_dir}", "not_mounted")
    if device_of(usb_dir) == device_of(state_dir):
        raise StickMissing(f"{usb_dir} is on the same device as {state_dir}", "same_device")


def copy_to_stick(backup: Path, usb_dir: Path, state_dir: Path, keep: int,
                  is_mount: Callable[[str], bool] = os.path.ismount,
                  device_of: Callable[[Path], int] = _device) -> StickCopy:
    """Copy a verified backup onto the stick atomically, then keep the newest `keep` there."""
    check_stick(usb_dir, state_dir, is_mount, device_of)
    _remove_stale_partials(usb_dir)
    final = usb_dir / backup.name
    partial = usb_dir / f"{PARTIAL_PREFIX}{backup.name}.{os.getpid()}"
    try:
        written = _write_partial(backup, partial)
        if _sha256(partial) != written:
            raise OSError(0, "the copy on the stick reads back differently (a failing stick?)")
        os.replace(partial, final)
        fsync_path(usb_dir)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise StickMissing(f"writing to {usb_dir} failed: {exc.strerror or exc}", "write_failed") from None
    others = [b for b in list_backups(usb_dir) if b.path != final]
    removed = []
    for old in others[keep - 1:]:
        with contextlib.suppress(FileNotFoundError):
            old.path.unlink()
            removed.append(old.path.name)
    if removed:
        fsync_path(usb_dir)
    return StickCopy(final, [final.name] + [b.path.name for b in others[:keep - 1]], removed)


def _write_partial(source: Path, partial: Path) -> str:
    digest = hashlib.sha256()
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with contextlib.suppress(OSError):  # a vfat stick has no modes: its mount options decide
            os.fchmod(fd, 0o600)
        with open(source, "rb") as src:
            for block in iter(lambda: src.read(_BLOCK), b""):
                digest.update(block)
                view = memoryview(block)
                while view:
                    view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    with contextlib.suppress(AttributeError, OSError):  # drop the cached pages: read what is on the stick
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return file_sha256(path)


def _remove_stale_partials(folder: Path) -> None:
    for entry in folder.glob(f"{PARTIAL_PREFIX}*"):
        with contextlib.suppress(OSError):
            if time.time() - entry.stat().st_mtime > 3600:
                entry.unlink()


# --------------------------------------------------------------------------- after the card copy


def after_card_copy(target: str, backup: Path, store_path: Path, *, usb_dir: Path, state_dir: Path, keep: int,
                    busy_timeout_ms: int = 5000, is_mount: Callable[[str], bool] = os.path.ismount,
                    device_of: Callable[[Path], int] = _device) -> tuple[dict[str, object], str | None]:
    """Carry out the target for a verified card copy: (a JSON-able result, a warning line or None)."""
    if target == "card":
        return {"target": "card"}, None
    store = Store(store_path, busy_timeout_ms)
    try:
        if target == "central":
            record = register_upload(store, backup)
            return {"target": "central", "backup_id": record["backup_id"], "chunks": record["count"]}, None
        alerts = AlertEngine(store)
        try:
            copy = copy_to_stick(backup, usb_dir, state_dir, keep, is_mount, device_of)
        except StickMissing as exc:
            alerts.raise_alert(USB_ALERT, Severity.WARNING, stick_title(usb_dir, exc.reason),
                               {"usb_dir": str(usb_dir), "reason": exc.reason})
            return ({"target": "usb", "usb": None, "reason": exc.reason},
                    f"no copy on the backup stick ({exc}); tonight's copy is on the card only")
        alerts.clear(USB_ALERT)
        return {"target": "usb", "usb": str(copy.path), "usb_kept": copy.kept, "usb_removed": copy.removed}, None
    finally:
        store.close()


def stick_title(usb_dir: Path, reason: str) -> str:
    if reason == "write_failed":
        return (f"Writing the backup to the stick at {usb_dir} failed: replace the backup stick; "
                "the backup is on the card only until then.")
    return (f"No backup stick: plug in the backup stick (it must mount at {usb_dir}); the nightly backup is "
            "on the card only until then.")
