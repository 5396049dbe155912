"""The MQTT contract's JSON Schemas (docs/asyncapi.yaml refers to these files).

They ship inside the package because the bridge validates every command against
them at run time; tests validate every message the project publishes.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

BASE_URI = "https://schemas.lobby.local/"
EVENT_KINDS = ("visitor", "feedback", "ticket", "patrol", "meter", "alert", "button", "health")


def _all_files() -> dict[str, Any]:
    root = resources.files(__package__)
    found: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        for child in node.iterdir():
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith(".json"):
                found[prefix + child.name] = json.loads(child.read_text(encoding="utf-8"))

    walk(root, "")
    return found


@functools.cache
def _registry() -> tuple[Registry, dict[str, Any]]:
    files = _all_files()
    registry = Registry().with_resources(
        (BASE_URI + name, Resource.from_contents(doc)) for name, doc in files.items()
    )
    return registry, files


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """A validator for a schema file, e.g. 'status.json' or 'commands/ping.json'."""
    registry, files = _registry()
    if name not in files:
        raise KeyError(f"no schema named {name}")
    return Draft202012Validator(files[name], registry=registry, format_checker=FormatChecker())


def command_names() -> list[str]:
    _, files = _registry()
    return sorted(n[len("commands/"):-len(".json")] for n in files if n.startswith("commands/"))


def first_error(name: str, instance: Any) -> str | None:
    """The most relevant validation error as one plain line, or None if valid."""
    errors = sorted(validator(name).iter_errors(instance), key=lambda e: (len(e.path), e.path))
    if not errors:
        return None
    error: ValidationError = errors[0]
    where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    message = error.message
    if error.validator == "anyOf" and all(sub.validator == "required" for sub in error.context or ()):
        wanted = sorted({str(sub.validator_value[0]) for sub in error.context or ()})
        message = "needs at least one of: " + ", ".join(wanted)
    if len(message) > 300:
        message = message[:297] + "..."
    return f"{where}: {message}"


def validate_event(kind: str, envelope: dict[str, Any]) -> str | None:
    return first_error(f"events/{kind}.json", envelope)
