"""Which build this is, as reported in gateway.started, the status payload and ping.

A release (systemd/release.sh build) writes `mqtt_bridge/_build.py` with the build's name
from `git describe --tags --always --dirty` (or, built from a tree without git, the
package version and a digest of the tree). Run from a git checkout (`./dev.sh`, an
editable install), the name is asked of git at start-up. Otherwise the installed
distribution's version is used, marked as not naming a build. That version is read
from the `Version:` line of the dist-info on sys.path without importlib.metadata, which
brings email, zipfile and csv (about 4.5 MB) into every process for one line of text.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def _from_git(tree: Path) -> str | None:
    if not (tree / ".git").exists():
        return None
    try:
        done = subprocess.run(["git", "-C", str(tree), "describe", "--tags", "--always", "--dirty"],
                              capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    described = done.stdout.strip()
    if done.returncode != 0 or not described:
        return None
    if re.match(r"v?\d+\.\d+", described):  # a release tag (v1.4.0), maybe with -N-gHASH[-dirty]
        return described.removeprefix("v")
    return f"{_distribution()}-g{described}"  # no tag yet: the package version and the commit


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


def _distribution() -> str:
    return installed_version()


def _version() -> str:
    try:
        from mqtt_bridge._build import VERSION as built  # type: ignore[import-not-found]
    except ImportError:
        built = None
    if built:
        return str(built)
    return _from_git(Path(__file__).resolve().parents[1]) or f"{_distribution()}+unknown-build"


VERSION = _version()
