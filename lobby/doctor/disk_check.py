"""Free space and a writable file system where the store and the system live."""

from __future__ import annotations

import os
from pathlib import Path

from lobby.config import Config
from lobby.doctor.base import Check, Context, Result, fail, ok

NAME = "disk"


def checks(cfg: Config) -> list[Check]:
    return [Check(NAME, run, timeout_s=3.0)]


def run(ctx: Context) -> list[Result]:
    cfg = ctx.cfg
    places: dict[int, tuple[str, os.statvfs_result]] = {}
    for label in (cfg.state_dir, "/"):
        path = _existing(Path(label))
        st = os.statvfs(path)
        places.setdefault(os.stat(path).st_dev, (str(path), st))
    results = []
    for where, st in places.values():
        total = st.f_blocks * st.f_frsize
        free = st.f_bavail * st.f_frsize
        pct = 100.0 * free / total if total else 0.0
        details = {"path": where, "free_mb": round(free / 1e6, 1), "free_pct": round(pct, 1)}
        if st.f_flag & os.ST_RDONLY:
            results.append(fail(NAME, f"The file system holding {where} is read-only: nothing can be saved.",
                                "The SD card may be failing (the kernel remounts it read-only after errors): "
                                "`dmesg | grep -i mmc`, back up, and replace the card.", **details))
        elif free / 1e6 < cfg.store.disk_min_free_mb or pct < cfg.alerts.disk_min_free_pct:
            results.append(fail(NAME, f"The disk holding {where} is nearly full: {free / 1e6:.0f} MB ({pct:.0f} %) free; "
                                      f"the lobby wants {cfg.store.disk_min_free_mb} MB and {cfg.alerts.disk_min_free_pct:g} %.",
                                "Delete old backups (/var/lib/lobby/backups), shrink the journal "
                                "(`sudo journalctl --vacuum-size=100M`), or use a larger SD card.", **details))
        else:
            results.append(ok(NAME, f"{free / 1e9:.1f} GB ({pct:.0f} %) free on the disk holding {where}.", **details))
    return results


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
