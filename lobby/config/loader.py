"""Reading and validating the TOML file, with one readable line per problem."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lobby.config.locate import did_you_mean, example_config, key_lines, known_keys, where
from lobby.config.model import Config
from mqtt_bridge.settings import read_secret  # noqa: F401 - re-exported for the doctor and the CLI
from lobby.config.errors import ConfigError, Problem
from lobby.config.validation import cross_checks
from mqtt_bridge import modelkit

if TYPE_CHECKING:
    from pydantic import ValidationError

# Keys whose meaning changed: the old name is refused with what to do instead.
RENAMED = {
    "visitors.watchlist[].phone_sha256": (
        "no longer accepted: an unsalted SHA-256 of a phone number can be reversed by trying every "
        "number. Run `lobby hash-phone` on this Pi and list its output as phone_hmac"),
    "visitors.code_lockout_min": (
        "replaced by code_delay_max_s: wrong codes now slow the lookup by a growing delay "
        "(at most that many seconds) instead of locking it for everyone; delete this key"),
    "tickets.lookup_lockout_min": (
        "replaced by lookup_delay_max_s: wrong ticket numbers now slow the lookup by a growing delay "
        "(at most that many seconds) instead of locking it for everyone; delete this key"),
}
_TYPE_NAMES = {
    "int_type": "an integer", "float_type": "a number", "bool_type": "true or false",
    "string_type": "text in quotes", "list_type": "a list [...]", "dict_type": "a table",
    "model_type": "a table", "model_attributes_type": "a table", "tuple_type": "a list",
}


def _key_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif str(part).startswith(("function-", "constrained-")):
            continue  # pydantic's internal validator names are not keys
        else:
            path += ("." if path else "") + str(part)
    return path


def _show(value: Any, path: str) -> str:
    """A number or true/false may be shown; text never is (it may be a name, a phone or a secret,
    and these messages reach logs and central's command results)."""
    if isinstance(value, bool):
        return f" (got {'true' if value else 'false'})"
    if isinstance(value, (int, float)) and len(str(value)) <= 12:
        return f" (got {value})"
    return ""


def _describe(error: dict[str, Any], path: str) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        generic = re.sub(r"\[\d+\]", "[]", path)
        if generic in RENAMED:
            return RENAMED[generic]
        loc = tuple(error["loc"])
        hint = did_you_mean(str(loc[-1]), known_keys(loc)) if loc else ""
        if hint:
            return f"unknown key{hint} (see {example_config()})"
        return f"unknown key (check the spelling; see {example_config()})"
    if kind == "missing":
        return "required key is missing"
    if kind in _TYPE_NAMES:  # a number where text belongs may be a phone or a password: not shown
        shown = "" if kind == "string_type" else _show(error.get("input"), path)
        return f"must be {_TYPE_NAMES[kind]}{shown}"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"must be one of {expected}{_show(error.get('input'), path)}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        ctx = error.get("ctx", {})
        words = {"greater_than": "greater than", "greater_than_equal": "at least",
                 "less_than": "less than", "less_than_equal": "at most"}[kind]
        bound = next(iter(ctx.values()), "")
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"must be {words} {bound}{_show(error.get('input'), path)}"
    if kind in ("too_short", "string_too_short"):
        n = error.get("ctx", {}).get("min_length", 1)
        unit = "character" if kind.startswith("string") else "item"
        return f"must have at least {n} {unit}{'s' if n != 1 else ''}"
    if kind in ("too_long", "string_too_long"):
        n = error.get("ctx", {}).get("max_length", 0)
        unit = "character" if kind.startswith("string") else "item"
        return f"must have at most {n} {unit}{'s' if n != 1 else ''}"
    if kind == "string_pattern_mismatch":
        return f"has the wrong format{_show(error.get('input'), path)}"
    if kind == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    return _plain(error["msg"])


def _plain(message: str) -> str:
    """pydantic's own wording for the rarer errors, with any quoted input cut out."""
    return re.sub(r"'[^']*'|\"[^\"]*\"", "…", message)[:200]


def _validation_problems(exc: ValidationError) -> list[Problem]:
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        path = _key_path(tuple(error["loc"]))
        problems.append((path, _describe(error, path)))
    return problems


def parse_config(text: str, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Validate TOML text into a Config or raise ConfigError listing every problem."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [("", f"not valid TOML: {exc}")]) from None
    except RecursionError:  # tomllib recurses once per level of [[[...]]] or {a={b=...}}
        raise ConfigError(source, [("", "not valid TOML: nested too deeply")]) from None
    try:
        return validate_mapping(raw, source, base_dir)
    except ConfigError as exc:
        lines = key_lines(text)
        places = {path: place for path, _ in exc.problems if path and (place := where(path, raw, lines))}
        raise ConfigError(source, exc.problems, places) from None


def validate_mapping(raw: dict[str, Any], source: str = "<config>", base_dir: Path | None = None) -> Config:
    if modelkit.read_only():
        raise RuntimeError("this process reads settings validated elsewhere: validate in a child (lobby/config/readonly.py)")
    from pydantic import ValidationError

    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, _validation_problems(exc)) from None
    problems = cross_checks(cfg)
    if problems:
        raise ConfigError(source, problems)
    if base_dir is not None and not os.path.isabs(cfg.state_dir):
        cfg = cfg.model_copy(update={"state_dir": str((base_dir / cfg.state_dir).resolve())})
    return cfg


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read a config file. Relative state_dir is taken relative to the file's folder."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(file), [("", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(file), [("", f"cannot read the file: {exc}")]) from None
    return parse_config(text, str(file), base_dir=file.resolve().parent)


def state_path(cfg: Config, relative: str) -> Path:
    """A path inside the state directory (absolute paths are kept as given)."""
    path = Path(relative)
    return path if path.is_absolute() else Path(cfg.state_dir) / path
