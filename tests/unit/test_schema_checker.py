"""The command-schema checker agrees with jsonschema, the reference, on every instance.

Held to jsonschema two ways, both property-based: central's real command schemas
against instances built near them (right and wrong keys, strings from their patterns
and around their lengths, numbers around their bounds) and against any JSON; and
random schemas made only of the checker's keywords against any JSON. Agreement means
the same verdict, the same first-error line (what central is told) and the same
broken rules at the same places.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mqtt_bridge import schemas
from mqtt_bridge.schemas.checker import Checker, Unsupported

COMMAND_SCHEMAS = ["command.json"] + [f"commands/{name}.json" for name in schemas.command_names()]
KEYS = ["a", "b", "c", "id", "cancelled"]
PATTERNS = ["^[a-c]{1,3}$", "^\\d{2}$", "b", "^$", "^[A-Za-z0-9_.-]{1,4}$"]

scalars = (st.none() | st.booleans() | st.integers(-3, 3) | st.integers()
           | st.floats(allow_nan=False, allow_infinity=False, width=32) | st.sampled_from([0.0, 1.0, 2.5, -1.0])
           | st.text(alphabet="abc1\n", max_size=5) | st.sampled_from(KEYS))
any_json = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=3), inner, max_size=4),
                        max_leaves=12)


def _near(schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Instances close to what the schema allows, so that each rule is met and broken."""
    if not isinstance(schema, dict) or depth > 4:
        return any_json
    options = [any_json]
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]))
    if "const" in schema:
        options.append(st.just(schema["const"]))
    if "properties" in schema or schema.get("type") == "object" or "required" in schema:
        props = schema.get("properties", {})
        named = {name: _near(sub, depth + 1) for name, sub in props.items()}
        for part in [schema.get("else", {}), schema.get("then", {}), *schema.get("anyOf", [])]:
            for name in part.get("required", []) if isinstance(part, dict) else []:
                named.setdefault(name, any_json)
        for name in schema.get("required", []):
            named.setdefault(name, any_json)
        options.append(st.fixed_dictionaries({}, optional=named).flatmap(
            lambda found: st.dictionaries(st.sampled_from(KEYS), any_json, max_size=1).map(
                lambda extra: {**found, **extra})))
        options.append(st.fixed_dictionaries({}, optional=named))
    if "items" in schema:
        most = min(schema.get("maxItems", 4), 4)
        options.append(st.lists(_near(schema["items"], depth + 1), max_size=most + 1))
    if "pattern" in schema:
        options.append(st.from_regex(schema["pattern"]))
    if "maxLength" in schema or "minLength" in schema:
        top = schema.get("maxLength", schema.get("minLength", 0) + 3)
        options.append(st.sampled_from([top, top + 1, max(schema.get("minLength", 0) - 1, 0)]).map(lambda n: "x" * n))
    if "minimum" in schema or "maximum" in schema:
        low, high = sorted((schema.get("minimum", -10), schema.get("maximum", 10)))
        options.append(st.integers(int(low) - 2, int(high) + 2) | st.floats(low - 1, high + 1) | st.booleans())
    return st.one_of(options)


def _shipped(name: str) -> Any:
    return schemas._files()[name]


def _rules_broken(errors: list[Any]) -> Counter[tuple[tuple[Any, ...], str]]:
    return Counter((tuple(error.path), str(error.validator)) for error in errors)


def _assert_agree(schema: Any, instance: Any) -> None:
    ours = list(Checker(schema).problems(instance))
    theirs = list(schemas._validator_class()(schema).iter_errors(instance))
    assert _rules_broken(ours) == _rules_broken(theirs)
    assert schemas.describe_first(ours) == schemas.describe_first(theirs)


def test_every_command_schema_is_checked_without_jsonschema() -> None:
    assert len(COMMAND_SCHEMAS) > 10
    for name in COMMAND_SCHEMAS:
        assert schemas.checker(name) is not None, name


@pytest.mark.parametrize("name", COMMAND_SCHEMAS)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_checker_agrees_with_jsonschema_on_the_command_schemas(name: str, data: st.DataObject) -> None:
    schema = _shipped(name)
    instance = data.draw(_near(schema) | any_json)
    _assert_agree(schema, instance)
    assert schemas.first_error(name, instance) == schemas.first_error_by_jsonschema(name, instance)


leaf_schemas = st.booleans() | st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["string", "integer", "number", "boolean", "null", "object", "array"])
            | st.lists(st.sampled_from(["string", "integer", "null", "array"]), min_size=1, max_size=2, unique=True),
    "minLength": st.integers(0, 3), "maxLength": st.integers(0, 3),
    "minimum": st.integers(-2, 2) | st.sampled_from([0.5, -1.5]), "maximum": st.integers(-2, 2),
    "exclusiveMinimum": st.integers(-2, 2), "exclusiveMaximum": st.sampled_from([0, 1.5]),
    "pattern": st.sampled_from(PATTERNS),
    "enum": st.lists(scalars, min_size=1, max_size=3), "const": scalars,
    "description": st.just("an annotation"),
})


def _compound(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries({}, optional={
        "type": st.sampled_from(["object", "array"]),
        "properties": st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
        "required": st.lists(st.sampled_from(KEYS), max_size=3, unique=True),
        "additionalProperties": inner,
        "items": inner, "minItems": st.integers(0, 2), "maxItems": st.integers(0, 3),
        "anyOf": st.lists(inner, min_size=1, max_size=3),
        "if": inner, "then": inner, "else": inner,
    })


random_schemas = st.recursive(leaf_schemas, _compound, max_leaves=8)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=random_schemas, instances=st.lists(any_json, min_size=1, max_size=4))
def test_the_checker_agrees_with_jsonschema_on_any_schema_of_its_keywords(schema: Any, instances: list[Any]) -> None:
    for instance in instances:
        _assert_agree(schema, instance)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=random_schemas, data=st.data())
def test_the_checker_agrees_near_random_schemas(schema: Any, data: st.DataObject) -> None:
    _assert_agree(schema, data.draw(_near(schema)))


@pytest.mark.parametrize("schema", [
    {"$ref": "#/$defs/x", "$defs": {"x": {}}},
    {"format": "date-time"},
    {"patternProperties": {"^a": {}}},
    {"prefixItems": [{}]},
    {"oneOf": [{}, {}]},
    {"type": "decimal"},
    {"pattern": "("},
    {"properties": {"a": {"minLength": -1}}},
    {"items": [{"type": "string"}]},
    {"anyOf": []},
    {"$schema": "http://json-schema.org/draft-07/schema#"},
    {"else": {"unevaluatedProperties": False}},
    {"properties": {"a": {"dependentRequired": {"a": ["b"]}}}},
    ["not", "a", "schema"],
])
def test_a_schema_beyond_the_allow_list_is_refused_never_half_checked(schema: Any) -> None:
    with pytest.raises(Unsupported):
        Checker(schema)


def test_a_schema_the_checker_refuses_is_validated_by_jsonschema() -> None:
    assert schemas.checker("batch.json") is None  # prefixItems, $ref
    assert schemas.first_error("batch.json", {"items": []}) == schemas.first_error_by_jsonschema(
        "batch.json", {"items": []}) is not None


def test_central_is_told_which_rule_broke_and_never_the_value() -> None:
    secret = "0123456789abcdef" * 4 + "!"
    problem = schemas.first_error("commands/visitor.invite.json", {"invite_id": "i1", "qr_token": secret,
                                                                          "cancelled": True})
    assert problem == "qr_token: does not match the required pattern"
    problem = schemas.first_error("commands/cards.update.json", {"cards": [{"uid": "04A1B2C3", "role": "boss"}]})
    assert problem == "cards/0/role: is not one of 'staff', 'guard'"
