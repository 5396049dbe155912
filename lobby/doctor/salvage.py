"""What of an invalid configuration can still be checked.

An invalid file fails the `config` line, but the disk, the clock and the store do not
depend on a meter's typo: they are still checked. The offending keys are taken out
(a whole array of devices when one entry is wrong, since a bus checked without its
meters would say too little), defaults stand in for what is required, and the file is
validated again until it passes. Checks that depend on a section that had to go are
not run and say so.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lobby.config import Config, ConfigError, validate_mapping

# Required top-level keys and the stand-ins used when they are missing or broken.
_REQUIRED = {"version": 1, "site": {"site_id": "unknown", "gateway_id": "unknown"}, "mqtt": {"host": "localhost"}}
# Arrays whose entries are checked together: a bus is checked with its meters.
_TOGETHER = {"meters": ("buses",), "buses": ("meters",)}
# The config sections each check module reads (a check is not run when one of these had to go).
CHECK_NEEDS = {
    "store": ("state_dir", "store"),
    "disk": ("state_dir",),
    "serial": ("buses", "meters"),
    "nfc": ("readers",),
    "gpio": ("gpio", "buttons"),
    "printer": ("printer",),
    "broker": ("mqtt", "site"),
    "clock": (),
    "calendar": ("site",),
    "fonts": ("kiosk",),
    "backups": ("state_dir", "store"),
}

_NEEDS_THE_FILE = {"serial", "nfc", "gpio", "printer", "broker"}


@dataclass
class Salvage:
    cfg: Config
    dropped: set[str] = field(default_factory=set)  # top-level sections that could not be used
    defaulted: set[str] = field(default_factory=set)  # single keys taken out (their defaults apply)

    def unusable(self, check_module: str) -> list[str]:
        """The sections `check_module` needs that could not be used. When nothing of the file could be
        read, the checks of this Pi itself run on the defaults (the installed paths); those that would
        have to guess a device or the broker's address are not run."""
        if "everything" in self.dropped:
            return ["the whole file"] if check_module in _NEEDS_THE_FILE else []
        return [s for s in CHECK_NEEDS.get(check_module, ()) if s in self.dropped]


def _parts(path: str) -> list[str | int]:
    return [int(p[1:-1]) if p.startswith("[") else p for p in re.findall(r"\[\d+\]|[^.\[\]]+", path)]


def salvage(path: Path, base_dir: Path | None = None) -> Salvage:
    """The most of the file at `path` that validates (defaults for the rest)."""
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        raw = {}
    result = Salvage(cfg=None)  # type: ignore[arg-type]
    if not raw:
        result.dropped.add("everything")
    for key, default in _REQUIRED.items():
        raw.setdefault(key, default)
    for _ in range(50):
        try:
            result.cfg = validate_mapping(raw, str(path), base_dir or path.resolve().parent)
            return result
        except ConfigError as exc:
            for problem_path, _message in exc.problems:
                _take_out(raw, problem_path, result)
    raw = dict(_REQUIRED)
    result.dropped.add("everything")
    result.cfg = validate_mapping(raw, str(path))
    return result


def _take_out(raw: dict[str, Any], problem_path: str, result: Salvage) -> None:
    parts = _parts(problem_path)
    if not parts:
        raw.clear()
        result.dropped.add("everything")
    else:
        top = str(parts[0])
        if isinstance(raw.get(top), list) or any(isinstance(p, int) for p in parts) or len(parts) == 1:
            _drop(raw, top, result)
        else:  # a single key of a table: its default applies
            node: Any = raw
            for part in parts[:-1]:
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, dict) and parts[-1] in node:
                node.pop(parts[-1])
                result.defaulted.add(problem_path)
            else:
                _drop(raw, top, result)
    for key, default in _REQUIRED.items():
        raw.setdefault(key, default)


def _drop(raw: dict[str, Any], top: str, result: Salvage) -> None:
    for section in (top, *_TOGETHER.get(top, ())):
        raw.pop(section, None)
        result.dropped.add(section)
        if section in _REQUIRED:
            raw[section] = _REQUIRED[section]
