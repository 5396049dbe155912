"""The outbox pump: outbox rows out as MQTT messages, PUBACKs back as deleted rows.

Critical rows go first, one event per message on `<base>/events/<kind>`, re-read
every few milliseconds so they overtake a bulk backlog of any size. Bulk rows follow
from a read-ahead buffer, many to a message on `<base>/batch/<kind>` (consecutive
rows of one kind, at most `mqtt.batch.max_items` and `max_bytes`), or one per message
on `events/` when batching is off. A PUBACK acknowledges every row its message carried.

Acknowledged rows are deleted before the window is filled again, in a small
transaction committed with synchronous=NORMAL (outbox.acknowledge): it survives the
process being killed, and a message's slot in the window is freed only once its rows
are gone. So whatever moment the process dies, the rows sent and not yet deleted are
at most the messages of one window (`mqtt.inflight`): that is all a restart re-sends.
"""

from __future__ import annotations

import collections
import logging
import sqlite3
import time
from collections.abc import Callable

from mqtt_bridge.session import BridgeStatus, Session, Tag
from mqtt_bridge.settings import BridgeSettings
from mqtt_bridge.store import Lane, Store, StoreError, outbox
from mqtt_bridge.store.outbox import EventRecord
from mqtt_bridge.timebase import BOOT_ID, monotonic_ns
from mqtt_bridge.topics import Topics

log = logging.getLogger(__name__)

CRITICAL_POLL_S = 0.01  # how often the critical lane is re-read while bulk rows are flowing
BULK_CHUNK = 1000  # bulk rows read from the store at a time
RECHECK_S = 1.0  # an idle pass reads the outbox at least this often, data_version or not
BULK_SHARE = 4  # with batching, bulk messages hold at most a quarter of the window (5 of 20)
_BATCH_HEAD, _BATCH_TAIL = b'{"items":[', b"]}"

StateSubject = Callable[[EventRecord], "str | None"]


class OutboxPump:
    def __init__(self, settings: BridgeSettings, store: Store, topics: Topics, status: BridgeStatus,
                 state_subject: StateSubject | None = None) -> None:
        self.settings = settings
        self.store = store
        self.topics = topics
        self.status = status
        self.state_subject = state_subject  # live bulk events -> retained <base>/state/<subject>
        self.window = settings.mqtt.inflight
        batch = settings.mqtt.batch
        self.batching = batch.enabled
        self.max_items = batch.max_items if batch.enabled else 1
        self.max_bytes = batch.max_bytes
        # Bulk messages may hold only part of the window, so a critical event never queues
        # behind more than that many batches at the broker (and a crash re-sends fewer).
        self.bulk_window = max(1, self.window // BULK_SHARE) if batch.enabled else self.window
        self.inflight = 0  # event messages awaiting their PUBACK
        self._bulk_inflight = 0  # ... of which bulk
        self.last_progress = 0.0  # when a PUBACK last arrived, or the window last went from empty to busy
        self._acked: list[int] = []  # rows acknowledged, not yet deleted
        self._acked_messages = 0  # ... and the messages that carried them: they keep their window slots
        self._acked_bulk = 0  # ... of which bulk
        self._live_from_seq = 0
        self._cursor = {Lane.CRITICAL: 0, Lane.BULK: 0}  # last seq handed to paho, per lane
        self._bulk_buffer: collections.deque[EventRecord] = collections.deque()
        self._bulk_fetched = 0  # last bulk seq read into the buffer
        self._last_critical_poll = 0.0
        # Nothing was left to send as of this data_version (None: look again). While another
        # connection has committed nothing since, an idle pass skips the two outbox queries.
        self._drained_at: tuple[int, float] | None = None

    @property
    def busy(self) -> bool:
        return bool(self.inflight or self._acked_messages)

    def start(self, live_from_seq: int) -> None:
        """A new connection: everything not deleted is sent again, rows up to live_from_seq as history."""
        self._live_from_seq = live_from_seq
        self.reset()

    def reset(self) -> None:
        """The connection is gone: what was in flight will be re-read from the outbox."""
        self.inflight = 0
        self._bulk_inflight = 0
        self.status.inflight = 0
        self._cursor = {Lane.CRITICAL: 0, Lane.BULK: 0}
        self._bulk_buffer.clear()
        self._bulk_fetched = 0
        self._last_critical_poll = 0.0
        self._drained_at = None

    def rows_dropped(self) -> None:
        """The budget deleted bulk rows: the buffer may hold some; re-read after the last one sent."""
        self._bulk_buffer.clear()
        self._bulk_fetched = self._cursor[Lane.BULK]
        self._drained_at = None

    def look_again(self) -> None:
        """Rows may have been committed on the bridge thread's own connection (the budget's
        outbox.dropped event, an alert it raised), which data_version does not show."""
        self._drained_at = None

    # ------------------------------------------------------------------ acknowledgements

    def on_ack(self, tag: Tag) -> None:
        self.inflight -= 1
        self._acked_messages += 1
        if tag.kind == "bulk":
            self._bulk_inflight -= 1
            self._acked_bulk += 1
        self._acked.extend(tag.seqs)
        self.last_progress = time.monotonic()

    def commit_acks(self) -> None:
        """Delete the acknowledged rows now (durable against a process crash); on a store
        error they stay pending, with their window slots, and the next call retries."""
        if not self._acked:
            self._acked_messages = self._acked_bulk = 0
            return
        try:
            outbox.acknowledge(self.store.connection(), self._acked)
        except (StoreError, sqlite3.Error) as exc:
            self.status.note_error(f"store: {exc}")
            if not self.store.stall.failed(exc):  # a stall is logged once, by the store
                log.warning("deleting %d acknowledged rows failed (%s); will retry", len(self._acked), exc)
            return
        self.store.stall.succeeded()
        self._acked = []
        self._acked_messages = self._acked_bulk = 0
        self.status.inflight = self.inflight

    # ------------------------------------------------------------------ sending

    def fill(self, session: Session) -> None:
        """Publish until the window is full or the outbox has nothing more to send."""
        free = self.window - self.inflight - self._acked_messages
        if free <= 0 or not session.up:
            return
        now = time.monotonic()
        conn = self.store.connection()
        version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        if self._drained_at is not None and self._drained_at[0] == version and now - self._drained_at[1] < RECHECK_S:
            return  # idle, and no other connection has committed since the outbox was found empty
        self._drained_at = None
        now_mono = monotonic_ns()
        sent_before = self.inflight
        try:
            if not self._bulk_buffer or now - self._last_critical_poll >= CRITICAL_POLL_S:
                self._last_critical_poll = now
                for row in outbox.fetch(self.store.connection(), Lane.CRITICAL, self._cursor[Lane.CRITICAL], free):
                    payload = self._wire_payload(row, now_mono)
                    if not session.publish(self.topics.event(row.kind), payload, Tag("event", (row.seq,))):
                        return
                    self._cursor[Lane.CRITICAL] = row.seq
                    self.inflight += 1
            states: dict[str, bytes] = {}
            exhausted = False  # the bulk lane had room and nothing left to send
            while self.inflight + self._acked_messages < self.window \
                    and self._bulk_inflight + self._acked_bulk < self.bulk_window:
                rows, parts = self._next_bulk(now_mono)
                if not rows:
                    exhausted = True
                    break
                if self.state_subject is not None:
                    self._note_states(rows, parts, now_mono, states)
                if self.batching:
                    topic, payload = self.topics.batch(rows[0].kind), _BATCH_HEAD + b",".join(parts) + _BATCH_TAIL
                else:
                    topic, payload = self.topics.event(rows[0].kind), parts[0]
                if not session.publish(topic, payload, Tag("bulk", tuple(row.seq for row in rows))):
                    return
                self._cursor[Lane.BULK] = rows[-1].seq
                self.inflight += 1
                self._bulk_inflight += 1
            for subject, payload in states.items():
                if not session.publish(self.topics.state(subject), payload, Tag("other"), retain=True):
                    return
            if self.inflight == sent_before and exhausted:
                self._drained_at = (version, now)  # both lanes had room and nothing was left to send
        finally:
            self.status.inflight = self.inflight
            if not sent_before and self.inflight:
                self.last_progress = now  # the window went from empty to busy

    def _next_bulk(self, now_mono: int) -> tuple[list[EventRecord], list[bytes]]:
        """The next message's bulk rows and their envelopes: consecutive rows of one kind,
        at most max_items, and at most max_bytes together (a bigger single event goes alone)."""
        buffer = self._bulk_buffer
        if not buffer and not self._read_ahead():
            return [], []
        first = buffer.popleft()
        rows, parts = [first], [self._wire_payload(first, now_mono)]
        size = len(_BATCH_HEAD) + len(_BATCH_TAIL) + len(parts[0])
        while len(rows) < self.max_items and (buffer or self._read_ahead()) and buffer[0].kind == first.kind:
            part = self._wire_payload(buffer[0], now_mono)
            size += len(part) + 1
            if size > self.max_bytes:
                break
            rows.append(buffer.popleft())
            parts.append(part)
        return rows, parts

    def _read_ahead(self) -> bool:
        start = max(self._bulk_fetched, self._cursor[Lane.BULK])
        self._bulk_buffer.extend(outbox.fetch(self.store.connection(), Lane.BULK, start, BULK_CHUNK))
        if not self._bulk_buffer:
            return False
        self._bulk_fetched = self._bulk_buffer[-1].seq
        return True

    def _note_states(self, rows: list[EventRecord], parts: list[bytes], now_mono: int,
                     states: dict[str, bytes]) -> None:
        assert self.state_subject is not None
        for row, part in zip(rows, parts):
            if not self._historical(row, now_mono):
                subject = self.state_subject(row)
                if subject is not None:
                    states[subject] = part  # the newest one of each subject wins

    def _historical(self, row: EventRecord, now_mono: int) -> bool:
        """Replayed backlog: queued before this connection, or older than historical_after_s."""
        if row.seq <= self._live_from_seq or row.boot_id != BOOT_ID:
            return True
        return (now_mono - row.mono_ns) / 1e9 > self.settings.mqtt.historical_after_s

    def _wire_payload(self, row: EventRecord, now_mono: int) -> bytes:
        """The envelope exactly as recorded: a time taken before NTP synchronised stays as it was
        (`clock_synced: false`, with its boot id and monotonic time), and so do the times in `data`;
        `time.corrected` (mqtt_bridge/timesync.py) tells central how to correct all of them at once.
        (Repairing `ts` alone here, as before, told central the time was good while `data` was not.)"""
        age_s = (now_mono - row.mono_ns) / 1e9 if row.boot_id == BOOT_ID else float("inf")
        historical = row.seq <= self._live_from_seq or age_s > self.settings.mqtt.historical_after_s
        return row.payload(historical)
