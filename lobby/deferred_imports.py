"""Modules a library imports but the services never use, loaded only if something does use them.

The services' libraries import more than the services use. paho-mqtt imports
``urllib.request`` (with ``http.client`` and most of ``email``) for proxy settings it
reads only when PySocks is installed; pymodbus imports ``asyncio`` for its async client
and server, which the gateway's bus drivers never start; gpiozero imports
``importlib.metadata`` (with ``email`` and ``zipfile``) to find pin factories by name,
which drivers/gpio/factory.py builds itself, and ``importlib_resources`` and ``pprint``
for its pinout charts and messages, and ``statistics`` (with ``fractions`` and ``decimal``)
for smoothed inputs the panel never uses; ``shutil`` imports ``bz2`` and ``lzma`` for archives
the services never make. Measured in the gateway (bench/gateway_rss_bench.py): about
2.3 MiB idle and 3.8 MiB polling 100 meters, of a process meant to stay under 40 MB.

Some packages' ``__init__`` imports everything the package has: gpiozero's brings every
device class, board, SPI chip and colorzero (about 1.9 MiB more than the three device
classes drivers/gpio uses); pymodbus's brings every framer and PDU, its datastore and its
simulator (about 1.1 MiB more than the RTU framer and the PDUs the meter driver uses).
``skip_package_init(name)`` registers such a package without running its ``__init__``:
its submodules import as usual (the drivers import from them), and the package's own
code runs only if something reads a name the package itself defines.

``defer(name)`` puts a placeholder module in ``sys.modules`` that carries the real
module's spec, so ``import name`` succeeds and costs nothing; the first attribute
anyone reads from it runs the real module's code into the placeholder itself, under a
lock, so every holder sees the loaded module. A library that imports a *function* by
name (``from importlib.metadata import entry_points``) gets a stand-in that loads the
module when called and then calls the real function. The standard library's
``importlib.util.LazyLoader`` would be the obvious tool, but on Python 3.11 the import
system reads ``__spec__`` from a module found in ``sys.modules``, which makes a
LazyLoader module load at once.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

_loading = threading.RLock()

# What `lobby gateway` and `lobby bridge` defer before importing their libraries:
# module -> the functions libraries import from it by name.
UNUSED_BY_SERVICES: dict[str, tuple[str, ...]] = {
    "urllib.request": (),                     # paho-mqtt: proxies, only with PySocks
    "asyncio": (),                            # pymodbus: its async client and server
    "importlib.metadata": ("entry_points",),  # gpiozero: pin factories by name
    "importlib_resources": (),                # gpiozero: pinout charts
    "pprint": ("pformat",),                   # gpiozero: board descriptions
    "bz2": (), "lzma": (),                    # shutil: archive formats
    "zipfile": (),                            # importlib.resources: packages inside zip files
    "statistics": ("median", "mean"),         # gpiozero: smoothed inputs (with fractions, decimal)
    "colorzero": ("Color",),                  # gpiozero: RGBLED's colours (calls Color only)
    # pymodbus's PDU modules name the server's datastore in annotations only; the meter
    # driver is a client. The stand-in is never an isinstance target there.
    "pymodbus.datastore": ("ModbusServerContext",),
}

# Packages whose __init__ the services do not run (parents before their subpackages).
PACKAGE_INITS_SKIPPED_BY_SERVICES: tuple[str, ...] = (
    "gpiozero",         # drivers/gpio imports gpiozero.input_devices, .output_devices, .pins
    "pymodbus",         # drivers/meters/modbus_rtu imports pymodbus.framer.rtu and pymodbus.pdu
    "pymodbus.framer",  # the ASCII, socket and TLS framers
)


class _Deferred(types.ModuleType):
    """A module whose code has not run yet; it runs at the first attribute read that misses."""

    def __getattr__(self, attr: str) -> Any:  # only called for attributes not (yet) in __dict__
        if attr == "__path__":  # the import system asking whether a plain module is a package: no
            raise AttributeError(attr)
        _load(self)
        try:
            return self.__dict__[attr]
        except KeyError:
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}") from None


def _load(module: types.ModuleType) -> None:
    namespace = module.__dict__
    with _loading:
        if namespace.pop("_deferred_", False):
            namespace["__spec__"].loader.exec_module(module)


def _stand_in(module: types.ModuleType, name: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        _load(module)
        return module.__dict__[name](*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def _register(name: str, functions: tuple[str, ...] = (), *, packages_only: bool = False) -> None:
    """Put a placeholder for `name` in sys.modules (unless it is imported, missing, or, with
    `packages_only`, not a package). A package's placeholder keeps its ``__path__``
    (module_from_spec sets it), so its submodules import without its ``__init__``."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or (packages_only and spec.submodule_search_locations is None):
        return
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _Deferred
    module.__dict__["_deferred_"] = True
    for function in functions:
        module.__dict__[function] = _stand_in(module, function)
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)


def defer(name: str, functions: tuple[str, ...] = ()) -> None:
    """Register `name` as deferred unless it is already imported (or does not exist); each of
    `functions` gets a stand-in that can be imported by name without loading the module."""
    _register(name, functions)


def skip_package_init(name: str) -> None:
    """Register package `name` without running its ``__init__`` (unless already imported).

    Its submodules import as usual. Reading a name the package itself defines runs
    ``__init__``, after which the package is exactly as if imported normally. A subpackage
    needs its parent registered first (finding it imports the parent)."""
    _register(name, packages_only=True)


def defer_unused_by_services() -> None:
    """Call first thing in a service process (`lobby gateway`, `lobby bridge`)."""
    for name in PACKAGE_INITS_SKIPPED_BY_SERVICES:
        skip_package_init(name)
    for name, functions in UNUSED_BY_SERVICES.items():
        defer(name, functions)


def is_loaded(name: str) -> bool:
    """Whether `name` has been imported for real (not only deferred)."""
    module = sys.modules.get(name)
    return module is not None and not module.__dict__.get("_deferred_", False)
