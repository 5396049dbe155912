"""Reading a handheld patrol wand's upload (`lobby patrol import FILE`).

A wand records every tap with its own clock; the guard docks it after the round.
Two formats, one row per tap, UTF-8:

CSV (a header row first; column order free; extra columns ignored; blank lines and
lines starting with '#' skipped):

    wand,time,uid
    wand-1,2026-11-25 22:01:10,7E11AA01          <- the guard's own card first
    wand-1,2026-11-25 22:02:30,04A1B2C3D4E501    <- then the checkpoint tags

JSON: an array of objects, or JSON Lines (one object per line):

    [{"wand": "wand-1", "time": "2026-11-25T22:01:10+08:00", "uid": "7E11AA01"}, ...]

- `wand`: the wand's id (lower-case letters, digits, '-', '_'); may be left out when
  `--wand ID` is given on the command line.
- `time`: when the wand saw the tag: "YYYY-MM-DD HH:MM[:SS]" or with a "T"; without an
  offset it is site-local time; "Z" or "+08:00" are honoured. In JSON also Unix seconds.
- `uid`: the tag or card UID, 4, 7 or 10 bytes of hex (":" "-" and spaces ignored).

Each bad row is reported with its line number and left out; the good rows are kept.
The wand's time is kept beside the time of the upload.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lobby.cardhash import normalise_uid

_WAND_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?\Z")
_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d{1,6})?)?(Z|[+-]\d\d:?\d\d)?\Z", re.ASCII)


@dataclass(frozen=True)
class WandRow:
    line: int
    wand: str
    time: dt.datetime  # aware, UTC
    uid: str  # normalised


@dataclass
class ParsedFile:
    format: str  # csv, json, jsonl
    rows: list[WandRow]
    problems: list[tuple[int, str]]  # (line, message); line 0: the file as a whole
    total: int  # rows seen (good + bad)


class WandFileError(ValueError):
    """The file cannot be read at all."""


def parse_time(value: Any, tz: dt.tzinfo) -> dt.datetime:
    if isinstance(value, bool):
        raise ValueError("time must be a date and time, not true/false")
    if isinstance(value, (int, float)):
        if not 946684800 <= value <= 4102444800:  # 2000-01-01 .. 2100-01-01
            raise ValueError(f"time {value} is not a plausible Unix time in seconds")
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("time is missing")
    text = value.strip()
    if not _TIME_RE.match(text):
        raise ValueError(f"time {text!r} is not a date and time (write YYYY-MM-DD HH:MM:SS)")
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"time {text!r} is not a valid date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(dt.timezone.utc)


def _row(line: int, fields: dict[str, Any], default_wand: str | None, tz: dt.tzinfo) -> WandRow:
    wand = fields.get("wand")
    if wand in (None, ""):
        if default_wand is None:
            raise ValueError("wand is missing (add a wand column or give --wand)")
        wand = default_wand
    if not isinstance(wand, str) or not _WAND_RE.match(wand):
        raise ValueError(f"wand {wand!r} is not a valid id (lower-case letters, digits, '-' or '_')")
    time = parse_time(fields.get("time"), tz)
    uid_value = fields.get("uid")
    if not isinstance(uid_value, str) or not uid_value.strip():
        raise ValueError("uid is missing")
    try:
        uid = normalise_uid(uid_value)
    except ValueError:
        raise ValueError(f"uid {uid_value.strip()[:40]!r} is not a card UID (4, 7 or 10 bytes of hex)") from None
    return WandRow(line, wand, time, uid)


def _parse_csv(text: str, default_wand: str | None, tz: dt.tzinfo) -> ParsedFile:
    import csv  # only when a wand's file is imported

    result = ParsedFile("csv", [], [], 0)
    lines = text.splitlines()
    header: list[str] | None = None
    for number, raw in enumerate(lines, start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        cells = next(csv.reader(io.StringIO(raw)))
        if header is None:
            header = [c.strip().lower() for c in cells]
            missing = [name for name in ("time", "uid") if name not in header]
            if missing:
                raise WandFileError(f"line {number}: the header row must name the columns time and uid "
                                    f"(and wand); missing: {', '.join(missing)}")
            continue
        result.total += 1
        if len(cells) < len(header):
            result.problems.append((number, f"expected {len(header)} columns ({','.join(header)}), found {len(cells)}"))
            continue
        try:
            result.rows.append(_row(number, {name: cells[i].strip() for i, name in enumerate(header)}, default_wand, tz))
        except ValueError as exc:
            result.problems.append((number, str(exc)))
    if header is None:
        raise WandFileError("the file is empty (expected a header row: wand,time,uid)")
    return result


def _object_row(result: ParsedFile, number: int, obj: Any, default_wand: str | None, tz: dt.tzinfo) -> None:
    result.total += 1
    if not isinstance(obj, dict):
        result.problems.append((number, "each row must be an object like {\"wand\": ..., \"time\": ..., \"uid\": ...}"))
        return
    try:
        result.rows.append(_row(number, obj, default_wand, tz))
    except ValueError as exc:
        result.problems.append((number, str(exc)))


def _parse_json_array(text: str, default_wand: str | None, tz: dt.tzinfo) -> ParsedFile:
    """Walk the array element by element so each row keeps the line it starts on."""
    result = ParsedFile("json", [], [], 0)
    decoder = json.JSONDecoder()
    line_of = lambda pos: text.count("\n", 0, pos) + 1  # noqa: E731
    ws = re.compile(r"\s*")
    pos = ws.match(text, 0).end()  # type: ignore[union-attr]
    if pos >= len(text) or text[pos] != "[":
        raise WandFileError("a JSON upload must be an array of rows, or JSON Lines")
    pos = ws.match(text, pos + 1).end()  # type: ignore[union-attr]
    if pos < len(text) and text[pos] == "]":
        return result
    while True:
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            result.problems.append((line_of(exc.pos), f"not valid JSON ({exc.msg}); the rest of the file was not read"))
            return result
        _object_row(result, line_of(pos), obj, default_wand, tz)
        pos = ws.match(text, end).end()  # type: ignore[union-attr]
        if pos < len(text) and text[pos] == ",":
            pos = ws.match(text, pos + 1).end()  # type: ignore[union-attr]
            continue
        if pos < len(text) and text[pos] == "]":
            if text[pos + 1:].strip():
                result.problems.append((line_of(pos + 1), "unexpected text after the closing ]"))
            return result
        result.problems.append((line_of(pos), "expected ',' or ']' between rows; the rest of the file was not read"))
        return result


def _parse_json_lines(text: str, default_wand: str | None, tz: dt.tzinfo) -> ParsedFile:
    result = ParsedFile("jsonl", [], [], 0)
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            result.total += 1
            result.problems.append((number, f"not valid JSON ({exc.msg})"))
            continue
        _object_row(result, number, obj, default_wand, tz)
    return result


def parse_text(text: str, tz: dt.tzinfo, default_wand: str | None = None, fmt: str | None = None) -> ParsedFile:
    """Parse an upload; `fmt` is csv, json or None (decided from the first character)."""
    text = text.lstrip("\ufeff")
    first = text.lstrip()[:1]
    if fmt is None:
        fmt = "json" if first in ("[", "{") else "csv"
    if fmt == "csv":
        return _parse_csv(text, default_wand, tz)
    if first == "[":
        return _parse_json_array(text, default_wand, tz)
    if first == "{":
        return _parse_json_lines(text, default_wand, tz)
    raise WandFileError("a JSON upload must be an array of rows, or JSON Lines (one object per line)")


def parse_file(path: str | Path, tz: dt.tzinfo, default_wand: str | None = None) -> tuple[ParsedFile, bytes]:
    """Parse an upload file; returns the parse and the raw bytes (for the file's hash)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise WandFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise WandFileError(f"line {line}: the file is not UTF-8 text") from None
    suffix = path.suffix.lower()
    fmt = "csv" if suffix == ".csv" else "json" if suffix in (".json", ".jsonl", ".ndjson") else None
    return parse_text(text, tz, default_wand, fmt), raw
