"""A JSON Schema checker for the few keywords central's command schemas use.

Why not jsonschema here: it loads referencing, rpds, attrs and every draft's
metaschema, about 4 MiB that a gateway would then hold for good after the first
command (docs/PERFORMANCE.md), against a 40 MB budget. jsonschema stays the
reference: tests hold this checker to jsonschema's verdicts and first errors, for
the shipped schemas and for random schemas made of these keywords
(tests/unit/test_schema_checker.py).

An allow-list, not a best effort: a schema with any keyword, type or draft not
listed below is refused when it is loaded (`Unsupported`), and `schemas.first_error`
then asks jsonschema. A rule is never skipped because this checker does not know it.

Patterns mean what JSON Schema says they mean (ECMA-262: `patterns.py`), as they do
for jsonschema here (`schemas.validator`).

The problems come out in jsonschema's order (the schema's keyword order, a
property's problems under `properties` in the schema's property order) and carry the
attributes `schemas._rule` reads from a jsonschema `ValidationError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

from mqtt_bridge.schemas.patterns import compile_pattern

DRAFT = "https://json-schema.org/draft/2020-12/schema"
ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "default", "examples"})
TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})
Path = tuple[Any, ...]


class Unsupported(ValueError):
    """The schema uses something this checker does not implement."""


@dataclass(eq=False)
class Problem:
    """One broken rule, named as jsonschema names it."""

    validator: str | None  # the keyword, None for a `false` schema
    validator_value: Any
    instance: Any
    schema: Any
    message: str
    path: Path = ()
    context: list[Problem] = field(default_factory=list)

    @property
    def absolute_path(self) -> Path:
        return self.path


def is_type(instance: Any, name: str) -> bool:
    """Draft 2020-12's types over what `json.loads` returns: a bool is no number, 1.0 is an integer."""
    if name == "object":
        return isinstance(instance, dict)
    if name == "string":
        return isinstance(instance, str)
    if name == "array":
        return isinstance(instance, list)
    if name == "boolean":
        return isinstance(instance, bool)
    if name == "null":
        return instance is None
    if isinstance(instance, bool) or not isinstance(instance, (int, float)):
        return False
    return name == "number" or isinstance(instance, int) or instance.is_integer()


def equal(one: Any, two: Any) -> bool:
    """JSON equality as jsonschema has it: true is not 1, 1 is 1.0, containers compare item by item."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return one == two
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(equal(a, b) for a, b in zip(one, two))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(equal(one[k], two[k]) for k in one)
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one is two
    return bool(one == two)


class Checker:
    """One schema, checked against the allow-list once and then applied to any number of instances."""

    def __init__(self, schema: Any) -> None:
        if isinstance(schema, dict) and schema.get("$schema", DRAFT) != DRAFT:
            raise Unsupported(f"draft {schema['$schema']!r}")
        self.schema = schema
        self._admit(schema)

    def problems(self, instance: Any) -> Iterator[Problem]:
        return self._descend(instance, self.schema, ())

    # -- loading: every keyword must be one this checker implements -------------------------------

    def _admit(self, schema: Any) -> None:
        if isinstance(schema, bool):
            return
        if not isinstance(schema, dict):
            raise Unsupported(f"a schema must be an object or a boolean, not {type(schema).__name__}")
        for keyword, value in schema.items():
            if keyword in ANNOTATIONS or keyword in ("then", "else"):
                continue
            check = _SHAPES.get(keyword)
            if check is None:
                raise Unsupported(f"keyword {keyword!r}")
            if not check(value):
                raise Unsupported(f"keyword {keyword!r} with a value of that shape")
        for sub in schema.get("properties", {}).values():
            self._admit(sub)
        for keyword in ("additionalProperties", "items", "if", "then", "else"):
            if keyword in schema:
                self._admit(schema[keyword])
        for sub in schema.get("anyOf", ()):
            self._admit(sub)

    # -- checking, in jsonschema's order ----------------------------------------------------------

    def _descend(self, instance: Any, schema: Any, path: Path) -> Iterator[Problem]:
        if schema is True:
            return
        if schema is False:
            yield Problem(None, None, instance, schema, f"False schema does not allow {instance!r}", path)
            return
        for keyword, value in schema.items():
            rule = _RULES.get(keyword)
            if rule is not None:
                yield from rule(self, instance, value, schema, path)

    def _child(self, instance: Any, schema: Any, path: Path, step: str | int) -> Iterator[Problem]:
        """A member's schema; jsonschema reports a `false` one at the parent's place, and so does this."""
        return self._descend(instance, schema, path if schema is False else path + (step,))

    def _type(self, instance: Any, types: Any, schema: Mapping[str, Any], path: Path) -> Iterator[Problem]:
        names = [types] if isinstance(types, str) else types
        if not any(is_type(instance, name) for name in names):
            yield Problem("type", types, instance, schema, f"{instance!r} is not of type {types!r}", path)

    def _properties(self, instance: Any, properties: Any, schema: Any, path: Path) -> Iterator[Problem]:
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if name in instance:
                    yield from self._child(instance[name], sub, path, name)

    def _required(self, instance: Any, required: Any, schema: Any, path: Path) -> Iterator[Problem]:
        if isinstance(instance, dict):
            for name in required:
                if name not in instance:
                    yield Problem("required", required, instance, schema, f"{name!r} is a required property", path)

    def _additional(self, instance: Any, extra_schema: Any, schema: Any, path: Path) -> Iterator[Problem]:
        if not isinstance(instance, dict):
            return
        extras = [name for name in instance if name not in schema.get("properties", {})]
        if extra_schema is False and extras:
            yield Problem("additionalProperties", False, instance, schema, "Additional properties are not allowed", path)
        elif extra_schema is not False:
            for name in extras:
                yield from self._child(instance[name], extra_schema, path, name)

    def _pattern(self, instance: Any, pattern: Any, schema: Any, path: Path) -> Iterator[Problem]:
        if isinstance(instance, str) and not compile_pattern(pattern).search(instance):  # cached
            yield Problem("pattern", pattern, instance, schema, f"{instance!r} does not match {pattern!r}", path)

    def _enum(self, instance: Any, options: Any, schema: Any, path: Path) -> Iterator[Problem]:
        if not any(equal(option, instance) for option in options):
            yield Problem("enum", options, instance, schema, f"{instance!r} is not one of {options!r}", path)

    def _const(self, instance: Any, value: Any, schema: Any, path: Path) -> Iterator[Problem]:
        if not equal(instance, value):
            yield Problem("const", value, instance, schema, f"{value!r} was expected", path)

    def _items(self, instance: Any, item_schema: Any, schema: Any, path: Path) -> Iterator[Problem]:
        if not isinstance(instance, list) or not instance:
            return
        if item_schema is False:
            yield Problem("items", False, instance, schema, f"Expected at most 0 items but found {len(instance)}", path)
            return
        for index, item in enumerate(instance):
            yield from self._child(item, item_schema, path, index)

    def _any_of(self, instance: Any, options: Any, schema: Any, path: Path) -> Iterator[Problem]:
        found: list[Problem] = []
        for option in options:
            problems = list(self._descend(instance, option, ()))
            if not problems:
                return
            found.extend(problems)
        yield Problem("anyOf", options, instance, schema, "is not valid under any of the given schemas", path, found)

    def _if(self, instance: Any, condition: Any, schema: Any, path: Path) -> Iterator[Problem]:
        if next(self._descend(instance, condition, path), None) is None:
            if "then" in schema:
                yield from self._descend(instance, schema["then"], path)
        elif "else" in schema:
            yield from self._descend(instance, schema["else"], path)


def _bound(test: Callable[[Any, Any], bool], kind: str, keyword: str) -> Callable[..., Iterator[Problem]]:
    """A numeric or length bound: `test(measure, limit)` is True when the value breaks it."""

    def rule(self: Checker, instance: Any, limit: Any, schema: Any, path: Path) -> Iterator[Problem]:
        if kind == "number" and is_type(instance, "number") and test(instance, limit):
            yield Problem(keyword, limit, instance, schema, f"{instance!r} breaks {keyword} {limit!r}", path)
        elif kind != "number" and is_type(instance, kind) and test(len(instance), limit):
            yield Problem(keyword, limit, instance, schema, f"{keyword} {limit!r}", path)

    return rule


def _schema(value: Any) -> bool:
    return isinstance(value, (bool, dict))


def _count(value: Any) -> bool:
    return is_type(value, "integer") and value >= 0


def _number(value: Any) -> bool:
    return is_type(value, "number")


def _types(value: Any) -> bool:
    names = [value] if isinstance(value, str) else value
    return isinstance(names, list) and bool(names) and all(isinstance(n, str) and n in TYPES for n in names)


def _names(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(n, str) for n in value) and len(set(value)) == len(value)


def _pattern_ok(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        compile_pattern(value)
    except (re.error, ValueError):
        return False
    return True


_SHAPES: dict[str, Callable[[Any], bool]] = {
    "type": _types,
    "properties": lambda v: isinstance(v, dict) and all(_schema(s) for s in v.values()),
    "required": _names,
    "additionalProperties": _schema,
    "pattern": _pattern_ok,
    "minLength": _count, "maxLength": _count, "minItems": _count, "maxItems": _count,
    "minimum": _number, "maximum": _number, "exclusiveMinimum": _number, "exclusiveMaximum": _number,
    "enum": lambda v: isinstance(v, list),
    "const": lambda v: True,
    "items": _schema,
    "anyOf": lambda v: isinstance(v, list) and bool(v) and all(_schema(s) for s in v),
    "if": _schema,
}

_RULES: dict[str, Callable[..., Iterator[Problem]]] = {
    "type": Checker._type,
    "properties": Checker._properties,
    "required": Checker._required,
    "additionalProperties": Checker._additional,
    "pattern": Checker._pattern,
    "minLength": _bound(lambda n, limit: n < limit, "string", "minLength"),
    "maxLength": _bound(lambda n, limit: n > limit, "string", "maxLength"),
    "minItems": _bound(lambda n, limit: n < limit, "array", "minItems"),
    "maxItems": _bound(lambda n, limit: n > limit, "array", "maxItems"),
    "minimum": _bound(lambda x, limit: x < limit, "number", "minimum"),
    "maximum": _bound(lambda x, limit: x > limit, "number", "maximum"),
    "exclusiveMinimum": _bound(lambda x, limit: x <= limit, "number", "exclusiveMinimum"),
    "exclusiveMaximum": _bound(lambda x, limit: x >= limit, "number", "exclusiveMaximum"),
    "enum": Checker._enum,
    "const": Checker._const,
    "items": Checker._items,
    "anyOf": Checker._any_of,
    "if": Checker._if,
}
