"""Command intake: every message on <base>/cmd/<name> gets exactly one answer.

Checks in order: size, UTF-8 JSON object, repeated id (answered again from the
store, never executed twice), envelope schema, known name, data schema; then the
handler runs inside one transaction with the record of the command, so a command
is either applied and recorded, or neither. Nothing here raises to the caller.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mqtt_bridge import schemas
from mqtt_bridge.clock import parse_ts
from mqtt_bridge.store import Store, Transaction
from mqtt_bridge.timebase import Stamp

log = logging.getLogger(__name__)

_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class CommandRejected(Exception):
    """A handler refuses the command; the message is sent back as the error."""


@dataclass(frozen=True)
class CommandResult:
    name: str
    id: str | None
    ok: bool
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    replayed: bool = False

    def payload(self) -> bytes:
        body: dict[str, Any] = {"id": self.id, "ok": self.ok}
        if self.error is not None:
            body["error"] = self.error
        if self.result:
            body["result"] = self.result
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


Handler = Callable[[Transaction, dict[str, Any]], dict[str, Any]]


def command_time(value: str, key: str) -> dt.datetime:
    """A time from a command's data. The schemas check its shape only, so a date
    that does not exist (2027-02-30, 09:00:80) is rejected here, by name."""
    try:
        return parse_ts(value)
    except ValueError:
        raise CommandRejected(f"{key}: {value[:40]!r} is not a real date and time") from None


@dataclass(frozen=True)
class CommandSpec:
    handler: Handler
    consumer: str | None = None  # set: the command is queued for that service ('kiosk'/'gateway')
    keep_data: bool = True  # False: the payload holds secrets (card UIDs) and is not kept in `commands`;
    # never for a queued command (consumer set): its consumer reads the data from there


class CommandIntake:
    def __init__(self, store: Store, specs: dict[str, CommandSpec], max_bytes: int,
                 after_commit: Callable[[str, dict[str, Any], dict[str, Any]], None] | None = None) -> None:
        self.store = store
        self.specs = specs
        self.max_bytes = max_bytes
        self.after_commit = after_commit  # e.g. restart after config.update

    def handle(self, name: str, payload: bytes) -> CommandResult:
        try:
            return self._handle(name, payload)
        except Exception:  # the intake must never take the bridge down
            log.exception("command %s: unexpected failure", name[:64])
            return CommandResult(name, None, False, "internal error while handling the command; it was not applied")

    # ------------------------------------------------------------------ steps

    def _handle(self, name: str, payload: bytes) -> CommandResult:
        if len(payload) > self.max_bytes:
            return self._reject(name, None, f"payload too large ({len(payload)} bytes; the limit is {self.max_bytes})")
        try:
            doc = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return self._reject(name, None, "payload is not valid UTF-8 JSON")
        if not isinstance(doc, dict):
            return self._reject(name, None, 'payload must be a JSON object {"id", "ts", "data"}')
        raw_id = doc.get("id")
        cmd_id = raw_id if isinstance(raw_id, str) and _ID.match(raw_id) else None

        if cmd_id is not None:
            prior = self._prior(cmd_id)
            if prior is not None:
                if prior.name != name:
                    return CommandResult(name, cmd_id, False, f"id {cmd_id!r} was already used by a {prior.name} command")
                return prior

        problem = schemas.first_error("command.json", doc)
        if problem is not None:
            return self._reject(name, cmd_id, f"invalid command envelope: {problem}")
        spec = self.specs.get(name)
        if spec is None:
            known = ", ".join(sorted(self.specs))
            return self._reject(name, cmd_id, f"unknown command {name[:64]!r}; this gateway knows: {known}")
        data = doc["data"]
        problem = schemas.first_error(f"commands/{name}.json", data)
        if problem is not None:
            return self._reject(name, cmd_id, f"invalid data: {problem}")

        try:
            with self.store.transaction() as tx:
                result = spec.handler(tx, data)
                state = "pending" if spec.consumer else "done"
                self._record(tx, name, cmd_id, True, None, result, data if spec.keep_data else None, state,
                             spec.consumer)
        except CommandRejected as exc:
            return self._reject(name, cmd_id, str(exc))
        log.info("command %s %s applied", name, cmd_id)
        if self.after_commit is not None:
            self.after_commit(name, data, result)
        return CommandResult(name, cmd_id, True, None, result)

    def _reject(self, name: str, cmd_id: str | None, error: str) -> CommandResult:
        log.warning("command %s rejected: %s", name[:64], error[:300])
        if cmd_id is not None:  # recorded so a repeat gets the same answer
            with self.store.transaction() as tx:
                self._record(tx, name, cmd_id, False, error, {}, None, "done", None)
        return CommandResult(name, cmd_id, False, error)

    def _prior(self, cmd_id: str) -> CommandResult | None:
        rows = self.store.query("SELECT name, ok, error, result FROM commands WHERE id = ?", (cmd_id,))
        if not rows:
            return None
        row = rows[0]
        return CommandResult(row["name"], cmd_id, bool(row["ok"]), row["error"],
                             json.loads(row["result"] or "{}"), replayed=True)

    @staticmethod
    def _record(tx: Transaction, name: str, cmd_id: str | None, ok: bool, error: str | None,
                result: dict[str, Any], data: dict[str, Any] | None, state: str, consumer: str | None) -> None:
        if cmd_id is None:
            return
        tx.execute(
            "INSERT INTO commands (id, name, received_ts, ok, error, result, data, state, consumer) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (cmd_id, name[:64], Stamp.now().ts, int(ok), error, json.dumps(result, ensure_ascii=False),
             None if data is None else json.dumps(data, ensure_ascii=False), state, consumer))


def pending(store: Store, consumer: str, limit: int = 50) -> list[dict[str, Any]]:
    """Queued commands for a consumer service, oldest first."""
    rows = store.query("SELECT id, name, data FROM commands WHERE consumer = ? AND state = 'pending' "
                       "ORDER BY rowid LIMIT ?", (consumer, limit))
    for row in rows:
        row["data"] = json.loads(row["data"] or "{}")
    return rows


def mark_done(tx: Transaction, cmd_id: str) -> None:
    tx.execute("UPDATE commands SET state = 'done' WHERE id = ?", (cmd_id,))
