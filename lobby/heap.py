"""Giving memory back to the system: a full collection, then glibc's `malloc_trim`.

Used by the kiosk once a visitor's screens have been let go (kiosk/navigation.py: Kivy
widgets form reference cycles, so a dropped screen's tree goes at the next full
collection) and by the services once they have started (lobby/cli/service.py). glibc
keeps freed heap pages resident until asked, software OpenGL's textures and buffers
included; `malloc_trim` returns free pages inside the heap as well as at its top.
Elsewhere (another libc) only the collection runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import time
from collections.abc import Callable
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


def freeze_startup() -> None:
    """Once the kiosk has started: what it built to run (modules, kv rules, the pinyin index, the
    home screen, the keyboard) lives as long as the process; moved out of the collector's sight,
    a full collection then looks at what a visitor's screens made."""
    gc.collect()
    gc.freeze()


def collect() -> tuple[int, float]:
    """A full collection: (objects collected, ms)."""
    t0 = time.perf_counter()
    found = gc.collect()
    return found, round((time.perf_counter() - t0) * 1000, 1)


def trim() -> float:
    """Return the C heap's free pages to the system (every arena); ms."""
    t0 = time.perf_counter()
    malloc_trim = _malloc_trim()
    if malloc_trim is not None:
        malloc_trim(0)
    return round((time.perf_counter() - t0) * 1000, 1)
