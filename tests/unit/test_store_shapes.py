"""Statements whose length follows the data come in a few shapes (mqtt_bridge/store/shapes.py).

Each distinct SQL text is a statement the connection compiles and keeps (Python's sqlite3
caches 128 per connection); a multi-row INSERT or an `IN (...)` list made to the exact size
of each batch made a connection that had seen every batch size from 1 to 300 hold 8 MiB of
compiled statements. What must hold: a batch of any size is written exactly once, as chunks
of a handful of sizes; an acknowledgement of any set of rows deletes exactly those rows,
padding or not; and SQLite's memory stops growing once every shape has been seen.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqtt_bridge.store import Lane, Store
from mqtt_bridge.store import outbox
from mqtt_bridge.store.shapes import MAX_IN_LIST, MAX_ROWS_PER_INSERT, insert_chunks, padded_in

ROOT = Path(__file__).resolve().parents[2]
POWERS = {1 << k for k in range(MAX_ROWS_PER_INSERT.bit_length())}


@given(st.integers(min_value=0, max_value=5000))
def test_insert_chunks_cover_the_batch_in_power_of_two_sizes(rows: int) -> None:
    chunks = list(insert_chunks(rows))
    position = 0
    for start, size in chunks:
        assert start == position and size in POWERS
        position += size
    assert position == rows
    assert len(chunks) <= rows // MAX_ROWS_PER_INSERT + MAX_ROWS_PER_INSERT.bit_length()


@given(st.lists(st.integers(), min_size=1, max_size=MAX_IN_LIST))
def test_an_in_list_is_padded_to_a_power_of_two_with_its_last_value(values: list[int]) -> None:
    marks, params = padded_in(values)
    width = len(params)
    assert width & (width - 1) == 0 and len(values) <= width < 2 * len(values)
    assert marks == ",".join("?" * width)
    assert params[:len(values)] == values and set(params[len(values):]) <= {values[-1]}


@pytest.mark.parametrize("count", [0, MAX_IN_LIST + 1])
def test_an_in_list_outside_its_bounds_is_refused(count: int) -> None:
    with pytest.raises(ValueError, match="IN list"):
        padded_in(list(range(count)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=6),
       acked=st.data())
def test_batches_of_any_size_land_once_and_acks_delete_exactly_their_rows(tmp_path_factory: pytest.TempPathFactory,
                                                                           batches: list[int],
                                                                           acked: st.DataObject) -> None:
    store = Store(tmp_path_factory.mktemp("shapes") / "s.db")
    try:
        n = 0
        for size in batches:
            with store.transaction() as tx:
                outbox.append_events(tx.conn, [("meter", "meter.reading", {"n": n + i}) for i in range(size)],
                                     Lane.BULK, records=False)
            n += size
        rows = store.query("SELECT seq, data FROM outbox ORDER BY seq")
        assert [r["seq"] for r in rows] == list(range(1, n + 1))
        assert [json.loads(r["data"])["n"] for r in rows] == list(range(n))
        seqs = acked.draw(st.lists(st.sampled_from(range(1, n + 1)), unique=True, max_size=600), label="acked")
        assert outbox.acknowledge(store.connection(), seqs) == len(seqs)
        left = [r["seq"] for r in store.query("SELECT seq FROM outbox ORDER BY seq")]
        assert left == sorted(set(range(1, n + 1)) - set(seqs))  # padding deleted nothing else
        assert store.scalar("SELECT value FROM counters WHERE name = 'bulk_rows'") == len(left)
    finally:
        store.close()


SQLITE_MEMORY = r"""
import ctypes, json, sys
from mqtt_bridge.store import Lane, Store, outbox
sqlite = ctypes.CDLL("libsqlite3.so.0")  # the library the sqlite3 module uses: one per process
sqlite.sqlite3_memory_used.restype = ctypes.c_int64
store = Store(sys.argv[1])
def sizes(first, last):
    for size in range(first, last + 1):
        with store.transaction() as tx:
            outbox.append_events(tx.conn, [("meter", "meter.reading", {"i": i}) for i in range(size)],
                                 Lane.BULK, records=False)
        seqs = [row["seq"] for row in store.query("SELECT seq FROM outbox ORDER BY seq")]
        outbox.acknowledge(store.connection(), seqs)
    return sqlite.sqlite3_memory_used()
print(json.dumps([sizes(1, 128), sizes(129, 300), sizes(1, 300)]))
"""


def test_sqlite_memory_stops_growing_once_every_shape_has_been_seen(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", SQLITE_MEMORY, str(tmp_path / "s.db")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=True)
    after_128, after_300, again = json.loads(done.stdout)
    # Batches and acknowledgements of 129 to 300 rows use the shapes the first 128 sizes made.
    # (Statements sized to each batch: 3.9 MiB after the first 128 sizes, 8.3 MiB after 300.)
    assert after_300 - after_128 < 256 * 1024, (after_128, after_300)
    assert again - after_128 < 256 * 1024, (after_128, again)
