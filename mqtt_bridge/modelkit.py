"""The settings models' base: pydantic where a file is validated, plain records where it is read.

Validating the configuration takes pydantic, and pydantic costs a long-running process
about 20 MiB before it has done anything (bench/gateway_rss_bench.py). The gateway
and the bridge only read their settings, so they validate the file in a short-lived
child process (lobby/config/readonly.py) and build the same classes here on
`mqtt_bridge.records`: frozen records with the models' own properties and methods,
no validation, no pydantic.

The choice is made once per process, before any model module is imported: the
settings modules (`mqtt_bridge.settings`, `lobby.config.model`) import their base
classes and field helpers from this module, which hands them pydantic's unless
`select_read_only()` was called.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers see: the models are pydantic models
    from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

    __all__ = ["AfterValidator", "BaseModel", "BeforeValidator", "ConfigDict", "Field", "model_validator"]

_NAMES = frozenset({"AfterValidator", "BaseModel", "BeforeValidator", "ConfigDict", "Field", "model_validator"})
_read_only = False
_validating_served = False  # pydantic's names were handed out: models exist that validate


def read_only() -> bool:
    """True in a process that reads settings validated elsewhere (no pydantic here)."""
    return _read_only


def can_select_read_only() -> bool:
    """False once a settings model was built on pydantic in this process (it cannot be undone)."""
    return _read_only or not _validating_served


def select_read_only() -> None:
    """Build the settings models on plain records in this process, from now on.

    Call it before the first settings module is imported; after pydantic's names were
    handed out, the models already exist and validate, and this raises RuntimeError.
    """
    global _read_only
    if not can_select_read_only():
        raise RuntimeError("the settings models were already built on pydantic in this process")
    _read_only = True


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _read_only:
        return getattr(importlib.import_module("mqtt_bridge.records"), name)
    global _validating_served
    _validating_served = True
    return getattr(importlib.import_module("pydantic"), name)
