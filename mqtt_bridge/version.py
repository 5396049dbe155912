"""Which build this is, as reported in gateway.started, the status payload and ping.

A release (systemd/release.sh build) writes `mqtt_bridge/_build.py` with the build's name
from `git describe --tags --always --dirty` (or, built from a tree without git, the
package version and a digest of the tree). Run from a git checkout (`./dev.sh`, an
editable install), the name is asked of git at start-up. Otherwise the installed
distribution's version is used, marked as not naming a build.
"""

from __future__ import annotations

import re
import subprocess
from importlib import metadata
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


def _distribution() -> str:
    try:
        return metadata.version("lobby")
    except metadata.PackageNotFoundError:  # running from a source tree without installing
        return "0.0.0"


def _version() -> str:
    try:
        from mqtt_bridge._build import VERSION as built  # type: ignore[import-not-found]
    except ImportError:
        built = None
    if built:
        return str(built)
    return _from_git(Path(__file__).resolve().parents[1]) or f"{_distribution()}+unknown-build"


VERSION = _version()
