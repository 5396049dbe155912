"""docs/configuration.md, made from the config model itself.

Every leaf key of `Config` with its type, default, allowed range and who may change it
(lobby.config.scope), and the note written beside the field in the model's source.
`lobby config reference` prints it; tests/unit/test_configuration_doc.py fails when the
committed document differs, so the reference cannot drift from the code.
"""

from __future__ import annotations

import datetime as dt
import enum
import inspect
import io
import re
import tokenize
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from lobby.config import scope
from lobby.config.model import Config


@dataclass(frozen=True)
class KeyDoc:
    path: str  # `meters[].interval_s` for a key inside a list of tables
    type: str
    default: str  # "required" when the key has no default
    allowed: str  # range, choices or pattern; "" when any value of the type is allowed
    who: str  # "central", "on site", with the privacy-floor or grant rule when there is one
    note: str


# ------------------------------------------------------------------ notes from the source


@cache
def _field_notes(model: type[BaseModel]) -> dict[str, str]:
    """The comments written with each field: the block just above it and the one after it on its line."""
    try:
        source = inspect.getsource(model)
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    notes: dict[str, str] = {}
    field_re = re.compile(r"^    (\w+)\s*:")
    for number, line in enumerate(lines, start=1):
        match = field_re.match(line)
        if not match or match[1] not in model.model_fields:
            continue
        parts: list[str] = []
        above = number - 1
        block: list[str] = []
        while above in comments and lines[above - 1].strip().startswith("#"):
            block.insert(0, comments[above])
            above -= 1
        parts.extend(block)
        if number in comments:
            parts.append(comments[number])
            below = number + 1
            while below in comments and lines[below - 1].strip().startswith("#") and lines[below - 1].startswith("     "):
                parts.append(comments[below])  # a note continued under the field, indented past it
                below += 1
        text = " ".join(p for p in parts if p and not p.startswith("noqa"))
        notes[match[1]] = re.sub(r"\s+", " ", text).strip()
    return notes


_HEADER = re.compile(r"^\s*(?:#\s*)?\[(\[?)([A-Za-z0-9_.]+)\]?\]\s*(?:#\s*(.*))?$")
_KEY_LINE = re.compile(r"^(?:#\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*.*?(?:\s#\s*(.*))?$")
_CONTINUED = re.compile(r"^#?\s{8,}#\s*(.*)$")


def example_notes(text: str) -> dict[str, str]:
    """The comment beside each key of the example file (and its indented continuation lines)."""
    notes: dict[str, str] = {}
    table = ""
    last: str | None = None
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header and "=" not in line:
            table = header[2] + ("[]" if header[1] else "")
            last = None
            continue
        continued = _CONTINUED.match(line)
        if continued and last is not None:
            notes[last] = f"{notes.get(last, '')} {continued[1]}".strip()
            continue
        match = _KEY_LINE.match(line)
        if match and not line.startswith((" ", "\t")):
            last = f"{table}.{match[1]}" if table else match[1]
            if match[2] and last not in notes:
                notes[last] = match[2].strip()
            elif last in notes:
                last = None  # a second example of the same key (commented out): keep the first note
            continue
        last = None
    return notes


@cache
def _example_notes() -> dict[str, str]:
    from pathlib import Path

    import lobby

    source = Path(lobby.__file__).resolve().parents[1] / "config" / "example.toml"
    try:
        return example_notes(source.read_text(encoding="utf-8"))
    except OSError:
        return {}


# ------------------------------------------------------------------ types, defaults, ranges

_VALIDATOR_TYPES = {
    "_parse_clock": "time of day \"HH:MM\"",
    "_parse_month_day": "calendar day \"MM-DD\"",
    "_normalise_uid": "card UID (hex)",
    "_check_id": "id",
    "_check_timezone": "IANA time zone",
}


def _named_type(metadata: list[Any]) -> str | None:
    for item in metadata:
        func = getattr(item, "func", None)
        name = getattr(func, "__name__", "")
        if name in _VALIDATOR_TYPES:
            return _VALIDATOR_TYPES[name]
    return None


def _type_name(ann: Any, metadata: list[Any]) -> str:
    named = _named_type(metadata)
    if named:
        return named
    origin = typing.get_origin(ann)
    if origin is typing.Annotated:
        inner, *extra = typing.get_args(ann)
        return _type_name(inner, [m for e in extra for m in (getattr(e, "metadata", None) or [e])])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        name = " or ".join(_type_name(a, metadata) for a in args)
        return f"{name} (optional)" if len(args) < len(typing.get_args(ann)) else name
    if origin is typing.Literal:
        return "one of " + ", ".join(_value(v) for v in typing.get_args(ann))
    if origin is list:
        (item,) = typing.get_args(ann)
        return f"list of {_type_name(item, [])}"
    if origin is tuple:
        return "pair"
    if isinstance(ann, type) and issubclass(ann, enum.Enum):
        return "one of " + ", ".join(_value(m.value) for m in ann)
    simple = {bool: "true/false", int: "integer", float: "number", str: "text", dt.time: "time of day \"HH:MM\""}
    return simple.get(ann, getattr(ann, "__name__", str(ann)))


def _allowed(metadata: list[Any], ann: Any) -> str:
    parts: list[str] = []
    is_list = typing.get_origin(ann) is list or any(typing.get_origin(a) is list for a in typing.get_args(ann))
    unit = "entries" if is_list else "characters"
    low = next((f">= {_num(m.ge)}" for m in metadata if isinstance(m, Ge)), None) or \
        next((f"> {_num(m.gt)}" for m in metadata if isinstance(m, Gt)), None)
    high = next((f"<= {_num(m.le)}" for m in metadata if isinstance(m, Le)), None) or \
        next((f"< {_num(m.lt)}" for m in metadata if isinstance(m, Lt)), None)
    parts += [p for p in (low, high) if p]
    shortest = next((m.min_length for m in metadata if isinstance(m, MinLen) and m.min_length), None)
    longest = next((m.max_length for m in metadata if isinstance(m, MaxLen)), None)
    if shortest and longest:
        parts.append(f"{shortest} to {longest} {unit}")
    elif longest:
        parts.append(f"at most {longest} {unit}")
    elif shortest:
        parts.append(f"at least {shortest} {unit}")
    for m in metadata:
        pattern = getattr(m, "pattern", None)
        if isinstance(pattern, str):
            parts.append(f"matches `{pattern}`")
    if not parts and typing.get_origin(ann) is list:
        (item,) = typing.get_args(ann)
        if typing.get_origin(item) is typing.Annotated:
            _, *extra = typing.get_args(item)
            inner = [m for e in extra for m in (getattr(e, "metadata", None) or [e])]
            text = _allowed(inner, int)
            if text:
                return f"each {text}"
    return ", ".join(parts)


def _num(value: Any) -> str:
    return f"{value:_}".replace("_", " ") if isinstance(value, int) and abs(value) >= 10_000 else str(value)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.time):
        return f"\"{value:%H:%M}\""
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return f"\"{value[0]:02d}-{value[1]:02d}\""
    if isinstance(value, str):
        return f"\"{value}\""
    if isinstance(value, enum.Enum):
        return _value(value.value)
    if isinstance(value, list):
        if not value:
            return "[]"
        if all(isinstance(v, BaseModel) for v in value):
            return f"{len(value)} entries"
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if value is None:
        return "none"
    return str(value)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        return _value(field.default_factory())  # type: ignore[call-arg]
    if field.default is PydanticUndefined:
        return "required"
    return _value(field.default)


def _who(path: str) -> str:
    found = scope.classify(path)
    who = {"central": "central", "onsite": "on site"}.get(found or "", "unclassified")
    rule = scope.FLOORS.get(path)
    if rule is not None:
        tighter = {"max": "a smaller value", True: "switching it on", False: "switching it off"}[rule]
        who += f"; central may only tighten ({tighter})"
    grant = scope.GRANTS.get(path)
    if grant:
        who += f"; central too when `security.{grant}` is true"
    return who


# ------------------------------------------------------------------ walking the model


def _section(ann: Any) -> type[BaseModel] | None:
    return scope._section_of(ann)  # noqa: SLF001 - the same rule the scope table walks with


def keys(model: type[BaseModel] = Config, prefix: str = "") -> list[KeyDoc]:
    """One KeyDoc per leaf key, in the model's order."""
    out: list[KeyDoc] = []
    notes = _field_notes(model)
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        ann = field.annotation
        inner = _section(ann)
        if inner is not None:
            out += keys(inner, path + ".")
            continue
        if typing.get_origin(ann) is list:
            (item,) = typing.get_args(ann)
            table = _section(item)
            if table is not None:
                out += keys(table, path + "[].")
                continue
        note = _example_notes().get(path) or notes.get(name, "")
        out.append(KeyDoc(path, _type_name(ann, list(field.metadata)), _default(field),
                          _allowed(list(field.metadata), ann), _who(path), note))
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or " "


def _table_of(path: str) -> str:
    head, _, _ = path.rpartition(".")
    return head or "(top level)"


INTRO = """\
# Configuration reference

Every key of `/etc/lobby/lobby.toml` (on a development machine, the file given with
`--config`), with its type, its default, the values it accepts and who may change it.
Made from the configuration model by `lobby config reference`; a test fails when this file
and the model differ. `config/example.toml` (installed as
`/opt/lobby/share/lobby/lobby.example.toml`) shows a whole site; `lobby config check` names any
key or value that is wrong, with a "did you mean".

Who may change a key:

* **central**: the department's policy (service clocks, visitor and ticket rules, patrol
  plans, holiday calendars, thresholds). Central pushes these with `config.update`; the
  pushed file is applied on probation and kept only once the gateway reaches the broker
  with it.
* **on site**: everything that names a device, a file, a broker, a credential or a
  limit that protects the site. A `config.update` that changes one of these is refused.
* **central may only tighten**: privacy floors set on site. Central may make them stricter
  (shorter retention, masking on), never looser.

Keys written `name[].key` are keys of each table in a list of tables (`[[meters]]`).
Times are local to `site.timezone`. "required" keys have no default.
"""


def render() -> str:
    """The whole reference as Markdown."""
    out = [INTRO]
    tables: dict[str, list[KeyDoc]] = {}
    for key in keys():
        tables.setdefault(_table_of(key.path), []).append(key)
    for table, rows in tables.items():
        title = "Top level" if table == "(top level)" else f"`[{table}]`"
        if "[]" in table:
            title = f"`[[{table.replace('[]', '')}]]`" if table.endswith("[]") else f"`{table}`"
        out.append(f"\n## {title}\n\n| key | type | default | allowed | who | note |\n|---|---|---|---|---|---|")
        for key in rows:
            leaf = key.path[len(table) + 1:] if table != "(top level)" else key.path
            out.append(f"| `{leaf}` | {_cell(key.type)} | {_cell(key.default)} | {_cell(key.allowed)} | "
                       f"{_cell(key.who)} | {_cell(key.note)} |")
    return "\n".join(out) + "\n"
