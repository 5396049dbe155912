"""The outbox's bulk-lane counters against the rows themselves, under any mix of writes and deletes.

The disk budget reads `bulk_rows` and `bulk_bytes` instead of counting (mqtt_bridge/store/outbox.py),
so they must equal the bulk lane's rows and bytes after every step: appends on both lanes, deletes
by the budget (any seqs, some already gone, some critical) and acknowledgements from the broker,
including ones repeated after a reconnect.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mqtt_bridge.store import Lane, Store
from mqtt_bridge.store import outbox


class OutboxCounters(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.store = Store(Path(self.folder.name) / "s.db")
        self.conn = self.store.connection()
        self.live: dict[int, Lane] = {}  # what the model says is in the outbox
        self.gone: set[int] = set()

    @rule(lane=st.sampled_from([Lane.BULK, Lane.CRITICAL]), sizes=st.lists(st.integers(0, 400), min_size=1,
                                                                            max_size=30))
    def append(self, lane: Lane, sizes: list[int]) -> None:
        with self.store.transaction() as tx:
            records = outbox.append_events(tx.conn, [("meter", "meter.reading", {"pad": "x" * n}) for n in sizes],
                                           lane)
        for record in records:
            self.live[record.seq] = lane

    @precondition(lambda self: self.live or self.gone)
    @rule(data=st.data())
    def delete_some(self, data: st.DataObject) -> None:
        known = sorted(set(self.live) | self.gone)
        chosen = data.draw(st.lists(st.sampled_from(known), unique=True, max_size=600))
        with self.store.transaction() as tx:
            deleted = outbox.delete(tx.conn, chosen)
        assert deleted == sum(1 for seq in chosen if seq in self.live)
        for seq in chosen:
            if self.live.pop(seq, None) is not None:
                self.gone.add(seq)

    @precondition(lambda self: self.live or self.gone)
    @rule(data=st.data())
    def acknowledge_some(self, data: st.DataObject) -> None:
        known = sorted(set(self.live) | self.gone)
        chosen = data.draw(st.lists(st.sampled_from(known), unique=True, max_size=120))
        deleted = outbox.acknowledge(self.conn, chosen)
        assert deleted == sum(1 for seq in chosen if seq in self.live)
        for seq in chosen:
            if self.live.pop(seq, None) is not None:
                self.gone.add(seq)

    @invariant()
    def counters_equal_the_rows(self) -> None:
        rows, size = self.conn.execute("SELECT count(*), coalesce(sum(length(data)), 0) FROM outbox "
                                       "WHERE lane = ?", (int(Lane.BULK),)).fetchone()
        counters = dict(self.conn.execute("SELECT name, value FROM counters WHERE name LIKE 'bulk_%'").fetchall())
        assert (counters["bulk_rows"], counters["bulk_bytes"]) == (rows, size)
        assert rows == sum(1 for lane in self.live.values() if lane == Lane.BULK)
        assert {r[0] for r in self.conn.execute("SELECT seq FROM outbox")} == set(self.live)

    def teardown(self) -> None:
        self.store.close()
        self.folder.cleanup()


OutboxCounters.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
test_outbox_counters = OutboxCounters.TestCase
