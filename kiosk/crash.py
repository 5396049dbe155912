"""Logging an uncaught UI error without personal data."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

log = logging.getLogger("kiosk.app")


def log_without_data(exc: BaseException, where: str = "UI") -> None:
    """The exception type and the code locations only: messages and locals may hold personal data."""
    frames = traceback.extract_tb(exc.__traceback__)[-6:]
    trail = " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames))
    log.error("uncaught %s in the %s at %s", type(exc).__name__, where, trail or "?")
