"""Command intake: every message on <base>/cmd/<name> gets exactly one answer.

Checks in order: size, UTF-8 JSON object (numbers of at most 40 digits, no
unpaired surrogates), repeated id (answered again from the store, never executed
twice), envelope schema, age (commands/freshness.py), known name, data schema;
then the handler runs inside one transaction with the record of the command, so
a command is either applied and recorded, or neither. Nothing here raises to the
caller, and every answer carries the command's id when the payload has a usable one.

The command log (`commands`) keeps only what answers a retried id: id, name,
time, ok, the (value-free) error and a small result. A queued command keeps its
data until its consumer marks it done. The log is trimmed by rows and bytes and
purged with the personal data (`purge_log`).
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
from mqtt_bridge.store.shapes import MAX_IN_LIST, padded_in
from mqtt_bridge.commands.freshness import Freshness
from mqtt_bridge.timebase import Stamp

log = logging.getLogger(__name__)

_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")
MAX_DIGITS = 40  # no command needs a longer number; Python refuses over 4,300 digits with a ValueError
RESULT_KEEP_BYTES = 512  # a retried id is answered with at most this much of the first result


class _BadJson(Exception):
    """The payload parses as JSON but holds something no command accepts (named in the message)."""


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise _BadJson(f"a number has more than {MAX_DIGITS} digits")
    return int(text)


def _no_constant(text: str) -> float:
    raise _BadJson(f"{text} is not a JSON number")


def _first_surrogate(value: Any, path: str = "") -> str | None:
    """The path of the first text (key or value) holding an unpaired surrogate, or None."""
    if isinstance(value, str):
        return path or "(top level)" if any("\ud800" <= ch <= "\udfff" for ch in value) else None
    if isinstance(value, dict):
        for key, inner in value.items():
            where = f"{path}/{key}" if path else str(key)
            if any("\ud800" <= ch <= "\udfff" for ch in key):
                return path or "(top level)"
            found = _first_surrogate(inner, where)
            if found:
                return found
    if isinstance(value, list):
        for index, inner in enumerate(value):
            found = _first_surrogate(inner, f"{path}/{index}" if path else str(index))
            if found:
                return found
    return None


def _lenient_id(payload: bytes) -> str | None:
    """The id of a payload refused for one of its numbers, read with numbers ignored."""
    try:
        return _usable_id(json.loads(payload.decode("utf-8"), parse_int=lambda _t: 0, parse_float=lambda _t: 0.0,
                                     parse_constant=lambda _t: None))
    except (ValueError, RecursionError):
        return None


def _usable_id(doc: Any) -> str | None:
    raw = doc.get("id") if isinstance(doc, dict) else None
    return raw if isinstance(raw, str) and _ID.match(raw) else None


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
    # What the command does once its answer has reached the broker (service.restart, system.reboot):
    # never part of the answer, never run for a replayed id.
    then: Callable[[], None] | None = field(default=None, compare=False, repr=False)

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
        raise CommandRejected(f"{key}: not a real date and time") from None


@dataclass(frozen=True)
class CommandSpec:
    handler: Handler
    consumer: str | None = None  # set: the command is queued for that service ('kiosk'/'gateway')
    keep_data: bool = True  # kept only while queued (consumer set): its consumer reads the data from
    # `commands`, and mark_done() drops it; a command applied at once never keeps its payload
    after_answer: Callable[[dict[str, Any]], None] | None = None  # run with the result once the broker
    # acknowledged the answer (the bridge's thread starts it): act only after central can know


class CommandIntake:
    def __init__(self, store: Store, specs: dict[str, CommandSpec], max_bytes: int,
                 after_commit: Callable[[str, dict[str, Any], dict[str, Any]], None] | None = None, *,
                 freshness: Freshness | None = None, log_max_rows: int = 5000,
                 log_max_bytes: int = 2_000_000) -> None:
        self.store = store
        self.specs = specs
        self.max_bytes = max_bytes
        self.after_commit = after_commit  # e.g. restart after config.update
        self.freshness = freshness  # None: no age check (tests that replay fixed times); the runtime sets it
        self.log_max_rows = log_max_rows
        self.log_max_bytes = log_max_bytes

    def handle(self, name: str, payload: bytes) -> CommandResult:
        try:
            return self._handle(name, payload)
        except Exception as exc:  # the intake must never take the bridge down
            log.error("command %s: unexpected failure (%s)", name[:64], type(exc).__name__)
            return CommandResult(name, self._id_of(payload), False,
                                 "internal error while handling the command; it was not applied")

    def idle(self) -> None:
        """Nothing is waiting to run: the calling thread lets go of its store connection.
        Commands come minutes or hours apart; one kept between them would hold its page cache,
        parsed schema and prepared statements for as long as the process runs."""
        self.store.close_thread_connection()

    def refuse(self, name: str, payload: bytes, error: str) -> CommandResult:
        """An answer that neither runs nor records the command (e.g. rate_limited), so the
        same id sent again later runs. Keeps the id when the payload has a usable one."""
        cmd_id = None
        if len(payload) <= self.max_bytes:
            cmd_id = self._id_of(payload) or _lenient_id(payload)
        return CommandResult(name, cmd_id, False, error)

    def _id_of(self, payload: bytes) -> str | None:
        try:
            return _usable_id(json.loads(payload.decode("utf-8", "replace"), parse_int=_bounded_int,
                                         parse_constant=_no_constant))
        except Exception:  # only for the answer to a failure: no id is better than a second failure
            return None

    # ------------------------------------------------------------------ steps

    def _handle(self, name: str, payload: bytes) -> CommandResult:
        if len(payload) > self.max_bytes:
            return self._reject(name, None, f"payload too large ({len(payload)} bytes; the limit is {self.max_bytes})")
        try:
            doc = json.loads(payload.decode("utf-8"), parse_int=_bounded_int, parse_constant=_no_constant)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return self._reject(name, None, "payload is not valid UTF-8 JSON")
        except _BadJson as exc:
            return self._reject(name, _lenient_id(payload), f"payload refused: {exc}")
        except ValueError:  # e.g. a float's exponent beyond what Python parses
            return self._reject(name, _lenient_id(payload), "payload refused: a number cannot be read")
        if not isinstance(doc, dict):
            return self._reject(name, None, 'payload must be a JSON object {"id", "ts", "data"}')
        cmd_id = _usable_id(doc)
        surrogate = _first_surrogate(doc)
        if surrogate is not None:
            return self._reject(name, cmd_id, f"invalid data: {surrogate}: text holds an unpaired surrogate "
                                              "(not valid Unicode)")

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
        if self.freshness is not None:
            stale = self.freshness.check(doc["ts"])
            if stale is not None:
                return self._reject(name, cmd_id, stale)

        try:
            with self.store.transaction() as tx:
                result = spec.handler(tx, data)
                state = "pending" if spec.consumer else "done"
                self._record(tx, name, cmd_id, True, None, result,
                             data if spec.keep_data and spec.consumer else None, state, spec.consumer)
        except CommandRejected as exc:
            return self._reject(name, cmd_id, str(exc))
        if self.freshness is not None:
            self.freshness.accepted(doc["ts"])
        log.info("command %s %s applied", name, cmd_id)
        if self.after_commit is not None:
            self.after_commit(name, data, result)
        then = None
        if spec.after_answer is not None:
            action, answered = spec.after_answer, dict(result)
            then = lambda: action(answered)  # noqa: E731
        return CommandResult(name, cmd_id, True, None, result, then=then)

    def _reject(self, name: str, cmd_id: str | None, error: str) -> CommandResult:
        error = error[:500]
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

    def _record(self, tx: Transaction, name: str, cmd_id: str | None, ok: bool, error: str | None,
                result: dict[str, Any], data: dict[str, Any] | None, state: str, consumer: str | None) -> None:
        if cmd_id is None:
            return
        kept = json.dumps(result, ensure_ascii=False)
        if len(kept.encode()) > RESULT_KEEP_BYTES:
            kept = json.dumps({"truncated": True})
        cursor = tx.execute(
            "INSERT INTO commands (id, name, received_ts, ok, error, result, data, state, consumer) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (cmd_id, name[:64], Stamp.now().ts, int(ok), error, kept,
             None if data is None else json.dumps(data, ensure_ascii=False), state, consumer))
        if (cursor.lastrowid or 0) % TRIM_EVERY == 0:  # measuring the log reads it all: not on every command
            trim_log(tx, self.log_max_rows, self.log_max_bytes)


def pending(store: Store, consumer: str, limit: int = 50) -> list[dict[str, Any]]:
    """Queued commands for a consumer service, oldest first."""
    rows = store.query("SELECT id, name, data FROM commands WHERE consumer = ? AND state = 'pending' "
                       "ORDER BY rowid LIMIT ?", (consumer, limit))
    for row in rows:
        row["data"] = json.loads(row["data"] or "{}")
    return rows


def mark_done(tx: Transaction, cmd_id: str) -> None:
    """The consumer applied a queued command: its payload is no longer needed."""
    tx.execute("UPDATE commands SET state = 'done', data = NULL WHERE id = ?", (cmd_id,))


TRIM_EVERY = 50  # the log may exceed its bounds by this many rows between trims

_ROW_BYTES = ("coalesce(length(CAST(id AS BLOB)), 0) + coalesce(length(CAST(name AS BLOB)), 0) + 40 "
              "+ coalesce(length(CAST(error AS BLOB)), 0) + coalesce(length(CAST(result AS BLOB)), 0) "
              "+ coalesce(length(CAST(data AS BLOB)), 0)")


def log_size(tx: Transaction) -> tuple[int, int]:
    """Rows and bytes (approximately, as stored) of the command log."""
    rows, size = tx.execute(f"SELECT count(*), coalesce(sum({_ROW_BYTES}), 0) FROM commands").fetchone()
    return int(rows), int(size)


def trim_log(tx: Transaction, max_rows: int, max_bytes: int) -> int:
    """Drop the oldest answered commands past either bound (queued ones stay). Returns rows dropped."""
    rows, size = log_size(tx)
    if rows <= max_rows and size <= max_bytes:
        return 0
    dropped = 0
    if rows > max_rows:
        dropped += tx.execute("DELETE FROM commands WHERE rowid IN (SELECT rowid FROM commands WHERE state = 'done' "
                              "ORDER BY rowid LIMIT ?)", (rows - max_rows,)).rowcount
    while size > max_bytes:
        batch = tx.execute(f"SELECT rowid, {_ROW_BYTES} FROM commands WHERE state = 'done' ORDER BY rowid "
                           f"LIMIT {MAX_IN_LIST}").fetchall()
        if not batch:
            break
        cut, freed = [], 0
        for rowid, nbytes in batch:
            cut.append(rowid)
            freed += nbytes
            if size - freed <= max_bytes:
                break
        marks, params = padded_in(cut)  # one of a few statement shapes (mqtt_bridge/store/shapes.py)
        tx.execute(f"DELETE FROM commands WHERE rowid IN ({marks})", params)
        dropped += len(cut)
        size -= freed
    return dropped


def purge_log(tx: Transaction, before_ts: str) -> int:
    """Answered commands received before `before_ts` go with the personal data (lobby purge)."""
    return tx.execute("DELETE FROM commands WHERE state = 'done' AND received_ts < ?", (before_ts,)).rowcount
