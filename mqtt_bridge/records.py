"""Plain frozen records standing in for pydantic in a process that only reads settings.

The settings classes keep their own declarations (fields, defaults, properties,
methods); built on `BaseModel` from here they hold values that pydantic has already
validated in another process (lobby/config/readonly.py). Nothing is checked or
converted here: constructing a record from unvalidated input is a mistake, and the
field helpers (`Field`, validators) are inert markers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

_MISSING: Any = object()


class _FieldDefault:
    """What `Field(...)` leaves in a class body: its default (constraints are pydantic's job)."""

    __slots__ = ("default", "factory")

    def __init__(self, default: Any, factory: Callable[[], Any] | None) -> None:
        self.default = default
        self.factory = factory

    def value(self) -> Any:
        return self.factory() if self.factory is not None else self.default


def Field(default: Any = _MISSING, *, default_factory: Callable[[], Any] | None = None, **_: Any) -> Any:  # noqa: N802
    return _FieldDefault(default, default_factory)


def ConfigDict(**settings: Any) -> dict[str, Any]:  # noqa: N802
    return dict(settings)


def model_validator(*, mode: str) -> Callable[[Any], Any]:
    """Validators already ran where the file was validated."""
    return lambda function: function


class AfterValidator:
    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func


class BeforeValidator(AfterValidator):
    pass


def _is_field(name: str, annotation: Any) -> bool:
    if name == "model_config" or name.startswith("_"):
        return False
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return not text.startswith(("ClassVar", "typing.ClassVar"))


class BaseModel:
    """A frozen record with the field names of its class's annotations."""

    model_fields: ClassVar[dict[str, Any]] = {}  # name -> default (_MISSING when required)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            body = vars(klass)
            for name, annotation in body.get("__annotations__", {}).items():
                if _is_field(name, annotation):
                    fields[name] = body.get(name, fields.get(name, _MISSING))
        cls.model_fields = fields

    def __init__(self, **values: Any) -> None:
        fields = type(self).model_fields
        unknown = set(values) - set(fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        for name, default in fields.items():
            if name in values:
                value = values[name]
            elif isinstance(default, _FieldDefault):
                value = default.value()
            else:
                value = default
            if value is _MISSING:
                raise TypeError(f"{type(self).__name__} needs {name!r}")
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError(f"{type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise TypeError(f"{type(self).__name__} is frozen")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in type(self).model_fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:  # names only: values may be names, phones or secrets
        return f"{type(self).__name__}({', '.join(type(self).model_fields)})"

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Any:
        copy = object.__new__(type(self))
        for name in type(self).model_fields:
            object.__setattr__(copy, name, getattr(self, name))
        for name, value in (update or {}).items():
            if name not in type(self).model_fields:
                raise TypeError(f"{type(self).__name__} has no field {name!r}")
            object.__setattr__(copy, name, value)
        return copy

    def model_dump(self) -> dict[str, Any]:
        """Nested plain values (pydantic's python mode)."""
        return {name: _dump(getattr(self, name)) for name in type(self).model_fields}


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, list):
        return [_dump(item) for item in value]
    if type(value) is tuple:
        return tuple(_dump(item) for item in value)
    if isinstance(value, dict):
        return {key: _dump(item) for key, item in value.items()}
    return value
