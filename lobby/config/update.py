"""Replacing the config file with a newer one pushed by central (config.update).

The new file is validated completely and checked against what the site allows
(lobby.config.scope: central sets the department's policy, a person on site sets
identity, credentials, paths, devices and privacy floors) before it replaces the old one; the replacement is atomic (write, fsync, rename),
and the previous file is kept beside it as `.previous`. If anything fails, the
old file stays in force untouched.
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path
from typing import Any

from mqtt_bridge import modelkit
from mqtt_bridge.fsync import fsync_path
from lobby.config.errors import ConfigError, ConfigUpdateRejected
from lobby.config.loader import parse_config
from lobby.config.model import Config
from lobby.config.readonly import as_model, check_update_in_child, from_nodes, loads, to_nodes


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True


def check_update(current: Config, config_path: Path, version: int, text: str) -> Config:
    """Validate a pushed config against the current one; returns the new Config.

    Central may change only the keys lobby.config.scope allows it (an allow-list);
    any other key whose value differs from the one in force is refused by name,
    never by value, and the config in force stays. A process that only reads its
    settings (the gateway) has the check made by a child (lobby/config/readonly.py).
    """
    if modelkit.read_only():
        return check_update_in_child(current, config_path, version, text)
    from lobby.config.scope import onsite_changes

    if not current.security.allow_remote_config:
        raise ConfigUpdateRejected("remote configuration is switched off on this gateway (security.allow_remote_config)")
    try:
        new = parse_config(text, "config.update", base_dir=config_path.resolve().parent)
    except ConfigError as exc:
        raise ConfigUpdateRejected("; ".join(f"{p}: {m}" if p else m for p, m in exc.problems)) from None
    if new.version != version:
        raise ConfigUpdateRejected(f"the file says version {new.version} but the command says {version}")
    if new.version <= current.version:
        raise ConfigUpdateRejected(f"version {new.version} is not newer than the version in force ({current.version})")
    problems = _confinement(current, new)
    onsite = onsite_changes(current, new)
    if onsite:
        problems.append("only a person on site may change " + ", ".join(onsite[:40])
                        + (f" and {len(onsite) - 40} more" if len(onsite) > 40 else ""))
    if problems:
        raise ConfigUpdateRejected("; ".join(problems))
    return new


def _confinement(current: Config, new: Config) -> list[str]:
    """The older, specific refusals (kept for their clearer wording; the allow-list covers them too)."""
    problems: list[str] = []
    state_dir = Path(current.state_dir)
    if Path(new.state_dir).resolve() != state_dir.resolve():
        problems.append("state_dir cannot be changed remotely")
    confined = {"store.path": new.store.path, "store.backup_dir": new.store.backup_dir,
                "privacy.export_dir": new.privacy.export_dir}  # the last holds visitors' personal data
    for key, value in confined.items():
        path = Path(value)
        if not _inside(path if path.is_absolute() else state_dir / path, state_dir):
            problems.append(f"{key} must stay inside the state directory")
    if current.mqtt.tls.enabled and not new.mqtt.tls.enabled and not current.security.allow_tls_off:
        problems.append("switching TLS off remotely is not allowed here (security.allow_tls_off)")
    if new.mqtt.tls.insecure_skip_verify and not current.mqtt.tls.insecure_skip_verify and not current.security.allow_tls_off:
        problems.append("disabling certificate verification remotely is not allowed here")
    if new.security != current.security:
        problems.append("the [security] section can only be changed on site")
    return problems


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a crash leaves either the old or the new file."""
    tmp = path.with_name(path.name + ".new")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    if path.exists():
        previous = path.with_name(path.name + ".previous")
        previous.write_bytes(path.read_bytes())
    os.replace(tmp, path)
    fsync_path(path.parent)


# ------------------------------------------------------------------------- the checker child
# `python -m lobby.config.update`: check_update for a process that reads its settings only
# (lobby/config/readonly.py sends the request on stdin and reads the answer on stdout).

def _check_update_here(request: bytes) -> tuple[Any, ...]:
    current_nodes, config_path, version, text = loads(request)
    try:
        new = check_update(from_nodes(current_nodes, as_model), Path(config_path), version, text)
    except ConfigUpdateRejected as exc:
        return ("rejected", str(exc))
    return ("ok", to_nodes(new))


def main() -> int:
    try:
        reply = _check_update_here(sys.stdin.buffer.read())
    except Exception as exc:  # noqa: BLE001 - by kind only: the text may hold secrets
        reply = ("failed", type(exc).__name__)
    sys.stdout.buffer.write(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
    return 0


if __name__ == "__main__":
    sys.exit(main())
