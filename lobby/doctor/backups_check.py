"""Backups: is there a recent copy of the store (lobby backup, run daily by lobby-backup.timer)."""

from __future__ import annotations

import time

from lobby.cli.backup_cmd import list_backups
from lobby.config import Config, state_path
from lobby.doctor.base import Check, Context, Result, ok, warn

NAME = "backups"
STALE_AFTER_H = 48


def checks(cfg: Config) -> list[Check]:
    return [Check(NAME, run, timeout_s=2.0)]


def run(ctx: Context) -> list[Result]:
    folder = state_path(ctx.cfg, ctx.cfg.store.backup_dir)
    backups = list_backups(folder)
    if not backups:
        return [warn(NAME, f"There is no backup of the store in {folder} yet.",
                     "The daily timer makes one (systemctl list-timers lobby-backup.timer); make one now with "
                     "`sudo -u lobby lobby backup`.", folder=str(folder))]
    newest = backups[0]
    age_h = (time.time() - newest.path.stat().st_mtime) / 3600
    details = {"folder": str(folder), "newest": str(newest.path), "count": len(backups), "age_h": round(age_h, 1)}
    if age_h > STALE_AFTER_H:
        return [warn(NAME, f"The newest backup is {age_h / 24:.0f} days old ({newest.path.name}).",
                     "Check the backup timer: systemctl status lobby-backup.timer lobby-backup.service", **details)]
    return [ok(NAME, f"{len(backups)} backup(s) in {folder}; the newest is {age_h:.0f} h old.", **details)]
