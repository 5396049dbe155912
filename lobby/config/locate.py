"""Where a problem is: the TOML line, the device's id, a likely meant key or id, the example file.

`tomllib` keeps no positions, so a small scanner reads the file's table headers
(`[mqtt.tls]`, `[[meters]]`) and `key = value` lines and maps each concrete key path
(`meters[2].interval_s`) to its line. Inline tables and arrays (`checkpoints = [ {...} ]`)
are found by the line of their key. Multi-line strings are skipped over.
"""

from __future__ import annotations

import os
import re
import sys
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]\[]+?)\s*(\]\]?)\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")
_INDEXED = re.compile(r"^(?P<array>[A-Za-z0-9_.]+?)\[(?P<index>\d+)\]")

# What one entry of an array of tables is called in a message.
ENTRY_NAMES = {"meters": "meter", "buses": "bus", "readers": "reader", "buttons": "button",
               "patrol.checkpoints": "checkpoint", "patrol.guards": "guard", "patrol.routes": "route",
               "patrol.schedules": "schedule", "visitors.watchlist": "watch-list entry"}


def _dotted(name: str) -> str:
    parts = [p.strip().strip('"').strip("'") for p in re.split(r"\.(?=(?:[^\"']|\"[^\"]*\"|'[^']*')*$)", name)]
    return ".".join(parts)


def key_lines(text: str) -> dict[str, int]:
    """Concrete key path -> 1-based line number, for headers and `key = value` lines."""
    lines: dict[str, int] = {}
    counts: dict[str, int] = {}
    table = ""
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if fence is not None:  # inside a multi-line string
            if line.count(fence) % 2 == 1:
                fence = None
            continue
        header = _HEADER.match(line)
        if header and header[1] == header[3].replace("]", "[") and len(header[1]) == len(header[3]):
            name = _dotted(header[2])
            if header[1] == "[[":
                index = counts.get(name, 0)
                counts[name] = index + 1
                table = f"{name}[{index}]"
            else:
                table = _resolve(name, counts)
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            path = f"{table}.{_dotted(key[1])}" if table else _dotted(key[1])
            lines.setdefault(path, number)
            for quote in ('"""', "'''"):
                if line.count(quote) % 2 == 1:
                    fence = quote
    return lines


def _resolve(name: str, counts: dict[str, int]) -> str:
    """`[patrol.x]` after `[[patrol]]` entries would belong to the last one; plain tables otherwise."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        if head in counts:
            return f"{head}[{counts[head] - 1}]." + ".".join(parts[cut:])
    return name


def where(path: str, raw: dict[str, Any] | None, lines: dict[str, int]) -> str:
    """`line 34, meter "elec-lobby"` for a key inside an array entry; '' for plain keys."""
    match = _INDEXED.match(path)
    if not match:
        return ""
    array, index = match["array"], int(match["index"])
    entry_path = f"{array}[{index}]"
    number = lines.get(path) or lines.get(entry_path)
    if number is None:  # e.g. a key path ending in a list index: the nearest known parent
        probe = path
        while probe and number is None:
            probe = re.sub(r"(\.[^.\[]+|\[\d+\])$", "", probe)
            number = lines.get(probe)
        number = number or lines.get(array)
    entry = _entry(raw, array, index)
    label = ENTRY_NAMES.get(array, array.rsplit(".", 1)[-1])
    ident = entry.get("id") if isinstance(entry, dict) else None
    name = f'{label} "{ident}"' if isinstance(ident, str) and len(ident) <= 64 else f"{label} #{index + 1}"
    return f"line {number}, {name}" if number else name


def _entry(raw: dict[str, Any] | None, array: str, index: int) -> Any:
    node: Any = raw or {}
    for part in array.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, list) and 0 <= index < len(node):
        return node[index]
    return None


def did_you_mean(word: str, options: Iterable[str], quoted: bool = False) -> str:
    """'; did you mean X?' when one of the options is close to word, else ''."""
    import difflib  # only when a name is wrong: not worth its memory in every service

    choices = sorted(set(options))
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not match:
        return ""
    return f"; did you mean {match[0]!r}?" if quoted else f"; did you mean {match[0]}?"


def known_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed in the table that holds `loc` (a pydantic error location), or []."""
    from pydantic import BaseModel

    from lobby.config.model import Config

    model: Any = Config
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return []
        model = _model_in(field.annotation)
        if model is None:
            return []
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def example_config() -> str:
    """Where this installation's example configuration is, as the operator should type it.

    A release has it in its own share folder (sys.prefix/share/lobby), install.sh copies it
    to /opt/lobby/share/lobby, and a source tree has config/example.toml.
    """
    import lobby

    source_tree = Path(lobby.__file__).resolve().parents[1] / "config" / "example.toml"
    candidates = [Path(sys.prefix) / "share/lobby/lobby.example.toml", source_tree,
                  Path("/opt/lobby/share/lobby/lobby.example.toml")]
    for candidate in candidates:
        if candidate.is_file():
            if candidate == source_tree:
                try:
                    return os.path.relpath(candidate) if Path.cwd() in candidate.parents else str(candidate)
                except (OSError, ValueError):
                    return str(candidate)
            return str(candidate)
    return "/opt/lobby/share/lobby/lobby.example.toml"
