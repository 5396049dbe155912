"""The installed version, read from the distribution's metadata.

The `Version:` line of ``lobby-<version>.dist-info/METADATA`` (or an egg's
``PKG-INFO``) on ``sys.path``, found the way importlib.metadata finds it but without
importing it: importlib.metadata brings email, zipfile and csv, about 4.5 MB in every
process, for one line of text.
"""

from __future__ import annotations

import os
import sys

_FALLBACK = "0.0.0+source"  # running from a source tree without installing


def _normalise(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _metadata_version(folder: str) -> str | None:
    for leaf in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(folder, leaf), encoding="utf-8") as fh:
                for line in fh:
                    if line.startswith("Version:"):
                        return line.split(":", 1)[1].strip()
                    if not line.strip():  # the headers end at the first blank line
                        break
        except OSError:
            continue
    return None


def installed_version(distribution: str = "lobby") -> str:
    wanted = _normalise(distribution)
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for name in names:
            stem, dot, suffix = name.rpartition(".")
            if suffix not in ("dist-info", "egg-info") or not dot:
                continue
            if _normalise(stem.split("-", 1)[0]) != wanted:
                continue
            version = _metadata_version(os.path.join(entry or ".", name))
            if version:
                return version
    return _FALLBACK


VERSION = installed_version()
