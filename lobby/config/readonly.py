"""Settings for a process that only reads them: validated in a child, held here as plain records.

The gateway and the bridge run for months and never change their configuration in
place (a pushed file restarts them on probation). Validating it takes pydantic, which
would stay in their memory for good (about 20 MiB, bench/gateway_rss_bench.py). So
they validate it in a short-lived child, with the same model, the same cross checks
and the same messages, and receive the result as a tree of `Node`s; this process
then builds the same classes on `mqtt_bridge.records` (mqtt_bridge/modelkit.py).

- `load_read_only(path)`: at start, a forked child loads the file (before any thread
  exists); its `ConfigError` is raised here unchanged.
- `check_update_in_child(...)`: a pushed file (config.update) is checked by
  `python -m lobby.config.update`, since a process with threads must not fork.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from lobby.config.errors import ConfigError, ConfigUpdateRejected
from mqtt_bridge import modelkit

if TYPE_CHECKING:
    from lobby.config.model import Config

# Only the settings modules' classes are rebuilt from a tree (an allow-list, not any importable name).
MODEL_MODULES = frozenset({"mqtt_bridge.settings", "lobby.config.model"})
CHILD_TIMEOUT_S = 120.0


# What a settings tree may hold besides plain values: an allow-list for unpickling the answers
# (a pushed file is central's text; what comes back is only ever these).
_PICKLED = frozenset({("lobby.config.readonly", "Node"), ("mqtt_bridge.settings", "Endpoint"),
                      ("datetime", "time"), ("datetime", "date"), ("datetime", "datetime"),
                      ("datetime", "timedelta"), ("datetime", "timezone")})


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a settings tree")
        return super().find_class(module, name)


def loads(data: bytes) -> Any:
    """Unpickle a request or an answer of the settings children: only settings trees' types."""
    return _Unpickler(io.BytesIO(data)).load()


class Node(NamedTuple):
    """One settings object: its class and its fields' values (nested objects as Nodes)."""

    module: str
    name: str
    fields: dict[str, Any]


def to_nodes(value: Any) -> Any:
    """A settings object (pydantic or record) as Nodes and plain values."""
    fields = getattr(type(value), "model_fields", None)
    if isinstance(fields, dict) and not isinstance(value, type):
        return Node(type(value).__module__, type(value).__qualname__,
                    {name: to_nodes(getattr(value, name)) for name in fields})
    if isinstance(value, list):
        return [to_nodes(item) for item in value]
    if type(value) is tuple:
        return tuple(to_nodes(item) for item in value)
    if isinstance(value, dict):
        return {key: to_nodes(item) for key, item in value.items()}
    return value


def from_nodes(value: Any, build: Callable[[type, dict[str, Any]], Any]) -> Any:
    """Settings objects again, each made by `build(cls, fields)`."""
    if isinstance(value, Node):
        if value.module not in MODEL_MODULES:
            raise ValueError(f"not a settings module: {value.module}")
        cls = getattr(importlib.import_module(value.module), value.name)
        return build(cls, {name: from_nodes(item, build) for name, item in value.fields.items()})
    if isinstance(value, list):
        return [from_nodes(item, build) for item in value]
    if type(value) is tuple:
        return tuple(from_nodes(item, build) for item in value)
    if isinstance(value, dict):
        return {key: from_nodes(item, build) for key, item in value.items()}
    return value


def as_record(cls: type, fields: dict[str, Any]) -> Any:
    return cls(**fields)


def as_model(cls: Any, fields: dict[str, Any]) -> Any:
    return cls.model_construct(**fields)  # values validated already; pydantic's class, no second check


# ------------------------------------------------------------------------- at start: a forked child


def load_read_only(path: str | os.PathLike[str]) -> "Config":
    """Load `path` as `lobby.config.load_config` would, leaving pydantic out of this process.

    The child is a fork when that is safe (no thread yet, and this process has not chosen
    records already: a fork would inherit the choice), else a fresh interpreter. If the
    models were built on pydantic here already, the file is simply loaded here.
    """
    if not modelkit.can_select_read_only():
        from lobby.config.loader import load_config
        return load_config(path)
    if modelkit.read_only() or threading.active_count() > 1:
        reply = _in_fresh_child(path)
    else:
        reply = _in_forked_child(lambda: _load_in_child(path))
    modelkit.select_read_only()
    return _answer(reply, str(path))


def _in_fresh_child(path: str | os.PathLike[str]) -> bytes:
    try:
        done = subprocess.run([sys.executable, "-m", "lobby.config.readonly", os.fspath(path)],
                              capture_output=True, timeout=CHILD_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return b""
    return done.stdout


def _load_in_child(path: str | os.PathLike[str]) -> tuple[Any, ...]:
    from lobby.config.loader import ConfigError, load_config
    try:
        return ("ok", to_nodes(load_config(path)))
    except ConfigError as exc:
        return ("invalid", exc.source, exc.problems, exc.places)


def _in_forked_child(work: Callable[[], tuple[Any, ...]]) -> bytes:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns, never runs the parent's exit handlers
        status = 0
        try:
            os.close(read_end)
            try:
                reply = work()
            except Exception as exc:  # noqa: BLE001 - reported to the parent by kind, never by value
                reply = ("failed", type(exc).__name__)
            with os.fdopen(write_end, "wb") as out:
                out.write(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
        except BaseException:  # noqa: BLE001
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as incoming:
        data = incoming.read()
    os.waitpid(pid, 0)
    return data


def _answer(data: bytes, source: str) -> "Config":
    try:
        reply = loads(data) if data else ("failed", "no answer")
    except Exception:  # noqa: BLE001
        reply = ("failed", "an unreadable answer")
    if reply[0] == "ok":
        config: Config = from_nodes(reply[1], as_record)
        return config
    if reply[0] == "invalid":
        raise ConfigError(reply[1], reply[2], reply[3])
    raise ConfigError(source, [("", f"the configuration could not be checked ({reply[1]})")])


# ------------------------------------------------------------------------- config.update: a child process


def check_update_in_child(current: "Config", config_path: Path, version: int, text: str) -> "Config":
    """`lobby.config.update.check_update`, run by a fresh interpreter that may import pydantic."""
    request = pickle.dumps((to_nodes(current), str(config_path), version, text), protocol=pickle.HIGHEST_PROTOCOL)
    try:
        done = subprocess.run([sys.executable, "-m", "lobby.config.update"], input=request,
                              capture_output=True, timeout=CHILD_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigUpdateRejected(f"the file could not be checked ({type(exc).__name__})") from None
    try:
        reply = loads(done.stdout)
    except Exception:  # noqa: BLE001
        raise ConfigUpdateRejected(f"the file could not be checked (the checker exited {done.returncode})") from None
    if reply[0] == "ok":
        new: Config = from_nodes(reply[1], as_record)
        return new
    if reply[0] == "rejected":
        raise ConfigUpdateRejected(reply[1])
    raise ConfigUpdateRejected(f"the file could not be checked ({reply[1]})")


if __name__ == "__main__":  # the fresh child of load_read_only: the answer on stdout
    from lobby.config import readonly  # the module by its name: its Node is the one the parent allows

    sys.stdout.buffer.write(pickle.dumps(readonly._load_in_child(sys.argv[1]), protocol=pickle.HIGHEST_PROTOCOL))
