"""Modules a library imports but the services never use, loaded only if something does use them.

paho-mqtt imports ``urllib.request`` (which brings ``http.client`` and most of ``email``)
for proxy settings it reads only when PySocks is installed, and pymodbus imports
``asyncio`` (with ``concurrent.futures``) for its async client and server, which the
gateway's own bus drivers never start. Measured in the gateway polling 100 meters:
about 1.5 MiB of a process meant to stay under 40 MB (bench/gateway_rss_bench.py).

``defer(name)`` puts a placeholder module in ``sys.modules`` that carries the real
module's spec, so ``import name`` succeeds and costs nothing; the first attribute
anyone reads from it runs the real module's code into the placeholder itself, under
a lock, so every holder sees the loaded module. The standard library's
``importlib.util.LazyLoader`` would be the obvious tool, but on Python 3.11 the
import system reads ``__spec__`` from a module found in ``sys.modules``, which makes
a LazyLoader module load at once.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from typing import Any

_loading = threading.RLock()

# What `lobby gateway` and `lobby bridge` defer before importing paho-mqtt and pymodbus.
UNUSED_BY_SERVICES = ("urllib.request", "asyncio")


class _Deferred(types.ModuleType):
    """A module whose code has not run yet; it runs at the first attribute read that misses."""

    def __getattr__(self, attr: str) -> Any:  # only called for attributes not (yet) in __dict__
        namespace = self.__dict__
        with _loading:
            if namespace.pop("_deferred_", False):
                spec = namespace["__spec__"]
                spec.loader.exec_module(self)
        try:
            return namespace[attr]
        except KeyError:
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}") from None


def defer(*names: str) -> None:
    """Register each module as deferred unless it is already imported (or does not exist)."""
    for name in names:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        module.__class__ = _Deferred
        module.__dict__["_deferred_"] = True
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)


def defer_unused_by_services() -> None:
    """Call first thing in a service process (`lobby gateway`, `lobby bridge`)."""
    defer(*UNUSED_BY_SERVICES)


def is_loaded(name: str) -> bool:
    """Whether `name` has been imported for real (not only deferred)."""
    module = sys.modules.get(name)
    return module is not None and not module.__dict__.get("_deferred_", False)
