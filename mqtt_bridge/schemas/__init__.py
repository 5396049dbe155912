"""The MQTT contract's JSON Schemas (docs/asyncapi.yaml refers to these files).

They ship inside the package because the bridge validates every command against
them at run time; tests validate every message the project publishes.

Commands are checked by `checker` (the keywords their schemas use, held to
jsonschema's verdicts by tests), so a gateway never loads jsonschema (with
referencing, rpds and attrs: about 4 MiB it would hold for good). A schema the checker
does not cover, such as an event's, is validated by jsonschema, imported then.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from mqtt_bridge.schemas import patterns
from mqtt_bridge.schemas.checker import Checker, Problem, Unsupported

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError
    from referencing import Registry

BASE_URI = "https://schemas.lobby.local/"
EVENT_KINDS = ("visitor", "feedback", "ticket", "patrol", "meter", "alert", "button", "health", "backup")


SCHEMA_DIR = Path(__file__).resolve().parent


@functools.cache
def _names() -> tuple[str, ...]:
    """Every schema file, as 'status.json' or 'commands/ping.json'."""
    return tuple(sorted(path.relative_to(SCHEMA_DIR).as_posix() for path in SCHEMA_DIR.rglob("*.json")))


def _read(name: str) -> Any:
    if name not in _names():
        raise KeyError(f"no schema named {name}")
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


@functools.cache
def _files() -> dict[str, Any]:
    """Every schema, parsed (jsonschema's registry needs them all; a command's checker only its own)."""
    return {name: _read(name) for name in _names()}


@functools.cache
def _registry() -> tuple[Registry, dict[str, Any]]:
    from referencing import Registry, Resource

    files = _files()
    registry = Registry().with_resources(
        (BASE_URI + name, Resource.from_contents(doc)) for name, doc in files.items()
    )
    return registry, files


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """A validator for a schema file, e.g. 'status.json' or 'commands/ping.json'."""
    from jsonschema import FormatChecker

    registry, files = _registry()
    if name not in files:
        raise KeyError(f"no schema named {name}")
    return _validator_class()(files[name], registry=registry, format_checker=FormatChecker())


@functools.cache
def _validator_class() -> type[Draft202012Validator]:
    """Draft 2020-12 with `pattern` read as ECMA-262 (patterns.py), as the checker reads it."""
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import ValidationError

    def pattern(validator: Any, wanted: str, instance: Any, schema: Any) -> Any:
        if validator.is_type(instance, "string") and not patterns.matches(wanted, instance):
            yield ValidationError(f"{instance!r} does not match {wanted!r}")

    return validators.extend(Draft202012Validator, {"pattern": pattern})


def command_names() -> list[str]:
    return [n[len("commands/"):-len(".json")] for n in _names() if n.startswith("commands/")]


@functools.cache
def checker(name: str) -> Checker | None:
    """The light checker for a schema file, or None if the schema uses what it does not implement."""
    try:
        return Checker(_read(name))
    except Unsupported:
        return None


def first_error(name: str, instance: Any) -> str | None:
    """The most relevant validation error as one plain line, or None if valid."""
    light = checker(name)
    if light is None:
        return first_error_by_jsonschema(name, instance)
    return describe_first(list(light.problems(instance)))


def first_error_by_jsonschema(name: str, instance: Any) -> str | None:
    """jsonschema's verdict: the reference the checker is held to, and the validator of other schemas."""
    return describe_first(list(validator(name).iter_errors(instance)))


Error = Union["ValidationError", Problem]


def describe_first(found: list[Error]) -> str | None:
    """The most relevant of these errors (the shallowest, then jsonschema's order) as one plain line."""
    errors = sorted(found, key=lambda e: (len(e.path), tuple(e.path)))
    if not errors:
        return None
    error = errors[0]
    where = "/".join(_name(p) for p in error.absolute_path) or "(top level)"
    message = _rule(error)
    if len(message) > 300:
        message = message[:297] + "..."
    return f"{where}: {message}"


def _name(part: Any) -> str:
    """A key or index of the path: keys are names central chose, shown cut short."""
    text = str(part)
    return text if len(text) <= 40 else text[:37] + "..."


def _rule(error: Error) -> str:
    """The rule the value broke, in words, never the value itself (it may be a name, a phone or a secret)."""
    kind, rule = error.validator, error.validator_value
    if kind == "anyOf" and all(sub.validator == "required" for sub in error.context or ()):
        wanted = sorted({str(sub.validator_value[0]) for sub in error.context or ()})
        return "needs at least one of: " + ", ".join(wanted)
    if kind == "required":
        return error.message  # "'x' is a required property": a key name
    if kind == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {}))) if isinstance(error.instance, dict) else []
        return f"Additional properties are not allowed ({', '.join(repr(_name(k)) for k in extra[:5])} was unexpected)"
    if kind == "type":
        return f"is not of type {rule!r}" if isinstance(rule, str) else f"is not of type {' or '.join(map(repr, rule))}"
    words = {
        "pattern": "does not match the required pattern", "format": f"is not a valid {rule}",
        "maxLength": f"is too long (at most {rule} characters)", "minLength": f"is too short (at least {rule} characters)",
        "maxItems": f"has too many items (at most {rule})", "minItems": f"has too few items (at least {rule})",
        "maximum": f"must be at most {rule}", "minimum": f"must be at least {rule}",
        "exclusiveMaximum": f"must be less than {rule}", "exclusiveMinimum": f"must be more than {rule}",
        "maxProperties": f"has too many keys (at most {rule})", "minProperties": f"has too few keys (at least {rule})",
        "uniqueItems": "has repeated items", "multipleOf": f"must be a multiple of {rule}",
    }
    if kind in words:
        return words[kind]
    if kind == "enum":
        return "is not one of " + ", ".join(map(repr, rule[:12]))
    if kind == "const":
        return f"must be {rule!r}"
    return f"breaks the schema's {kind} rule"


def validate_event(kind: str, envelope: dict[str, Any]) -> str | None:
    return first_error(f"events/{kind}.json", envelope)


def validate_batch(kind: str, batch: Any) -> str | None:
    """A batch on <base>/batch/<kind>: its shape (batch.json), then each item as an event of that kind."""
    problem = first_error("batch.json", batch)
    if problem is not None:
        return problem
    for index, item in enumerate(batch["items"]):
        problem = validate_event(kind, item)
        if problem is not None:
            return f"items/{index}: {problem}"
    return None
