"""The outbox's append path: batched ids, the JSON text, the counters, the critical-lane index."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mqtt_bridge.store import Lane, Store
from mqtt_bridge.store import ids, outbox
from mqtt_bridge.store.migrations import LATEST, migrate


def _check(text: str) -> None:
    value = uuid.UUID(text)
    assert str(value) == text
    assert value.version == 7 and value.variant == uuid.RFC_4122


def test_batched_ids_are_uuid7_in_order_and_continue_the_single_ones() -> None:
    made: list[str] = []
    for n in (1, 0, 3, 4095, 4096, 4097, 2, 10_000, 1):
        made.append(ids.uuid7())
        made.extend(ids.uuid7_many(n))
    assert len(set(made)) == len(made)
    assert made == sorted(made)  # time-ordered as text, across batches and single ids
    for text in made[::97] + made[-3:]:
        _check(text)


def test_a_batch_past_the_counter_borrows_the_next_milliseconds() -> None:
    batch = ids.uuid7_many(3 * 4096)
    millis = [int(t.replace("-", "")[:12], 16) for t in batch]
    counters = [int(t.replace("-", "")[13:16], 16) for t in batch]
    assert millis == sorted(millis) and len(set(millis)) >= 3
    for i in range(1, len(batch)):
        if millis[i] == millis[i - 1]:
            assert counters[i] == counters[i - 1] + 1
        else:
            assert counters[i] == 0


def _reference(ms: int, counter: int, n: int, random_hex: bytes) -> list[str]:
    """One id at a time, as RFC 9562 lays a UUIDv7 out (what ids._format must equal)."""
    out = []
    for i in range(n):
        if counter > 0xFFF:
            ms, counter = ms + 1, 0
        h = f"{ms & 0xFFFF_FFFF_FFFF:012x}7{counter:03x}" + random_hex[16 * i:16 * i + 16].decode()
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
        counter += 1
    return out


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**48 - 1), st.integers(0, 0xFFF), st.integers(0, 5000).flatmap(
    lambda n: st.tuples(st.just(n), st.binary(min_size=8 * n, max_size=8 * n))))
def test_ids_written_column_by_column_equal_ids_formatted_one_by_one(ms: int, counter: int, batch: tuple) -> None:
    n, raw = batch
    random_hex = raw.hex().encode()
    assert ids._format(ms, counter, n, random_hex) == _reference(ms, counter, n, random_hex)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_encoded_data_reads_back_as_what_json_dumps_gives(data: dict) -> None:
    """Compact UTF-8 JSON with the same meaning (orjson spells some floats differently: 1e16, not 1e+16)."""
    text = outbox.encode_data(data)
    expected = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    assert json.loads(text) == json.loads(expected)


def test_odd_values_are_encoded_as_before_or_refused_as_before() -> None:
    huge = {"n": 10 ** 30}  # past 64 bits: orjson refuses, the stdlib encoder writes it
    assert outbox.encode_data(huge) == '{"n":1000000000000000000000000000000}'
    lone = {"t": "a\ud800b"}  # a lone surrogate: the stdlib encoder, as before
    assert outbox.encode_data(lone) == json.dumps(lone, separators=(",", ":"), ensure_ascii=False)
    assert outbox.encode_data({1: "x"}) == '{"1":"x"}'
    assert outbox.encode_data({"name": "电表", "v": [1, 2.5]}) == '{"name":"电表","v":[1,2.5]}'  # compact, UTF-8
    assert outbox.encode_data({"v": float("nan"), "w": float("inf")}) == '{"v":null,"w":null}'  # valid JSON
    import datetime as dt

    with pytest.raises(TypeError):
        outbox.encode_data({"at": dt.datetime(2026, 12, 6)})  # refused, as the stdlib refuses it


def test_batch_rows_hold_what_the_records_say(tmp_path: Path) -> None:
    events = [("meter", "meter.reading", {"v": i, "name": "电表"}) for i in range(250)]
    with Store(tmp_path / "s.db") as store:
        store.emit("alert", "alert.raised", {"key": "k"})
        with store.transaction() as tx:
            records = outbox.append_events(tx.conn, events, Lane.BULK)
        assert [r.seq for r in records] == list(range(2, 252))
        assert all(r.lane is Lane.BULK and isinstance(r.clock_synced, bool) for r in records)
        rows = outbox.fetch(store.connection(), Lane.BULK, 0, 1000)
        assert rows == records
        assert [json.loads(r.data)["v"] for r in rows] == list(range(250))
        assert store.scalar("SELECT value FROM counters WHERE name = 'bulk_rows'") == 250
        assert store.scalar("SELECT value FROM counters WHERE name = 'bulk_bytes'") == sum(len(r.data) for r in records)
        assert store.scalar("SELECT typeof(lane) || typeof(clock_synced) FROM outbox LIMIT 1") == "integerinteger"


def test_a_critical_batch_leaves_the_bulk_counters_alone(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        with store.transaction() as tx:
            records = outbox.append_events(tx.conn, [("ticket", "ticket.opened", {"i": i}) for i in range(5)],
                                           Lane.CRITICAL)
        assert [r.seq for r in records] == [1, 2, 3, 4, 5]
        assert store.scalar("SELECT value FROM counters WHERE name = 'bulk_rows'") == 0
        assert outbox.depth(store.connection())[Lane.CRITICAL].rows == 5


def test_data_that_cannot_be_encoded_changes_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        try:
            with store.transaction() as tx:
                outbox.append_events(tx.conn, [("m", "m.r", {"ok": 1}), ("m", "m.r", {"bad": object()})])
        except TypeError:
            pass
        else:
            raise AssertionError("an object that is not JSON was accepted")
        assert outbox.last_seq(store.connection()) == 0
        assert store.emit("m", "m.r", {"ok": 2}).seq == 1


def test_the_critical_lane_is_found_by_its_partial_index(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        conn = store.connection()
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'outbox' "
                                              "AND type = 'index'")}
        assert indexes == {"outbox_critical"}
        sql = "SELECT seq FROM outbox WHERE lane = ? AND seq > ? ORDER BY seq LIMIT ?"
        plan = " ".join(str(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql, (0, 0, 10)))
        assert "outbox_critical" in plan
        with store.transaction() as tx:
            outbox.append_events(tx.conn, [("m", "m.r", {"i": i}) for i in range(50)], Lane.BULK)
            tx.emit("t", "t.x", {})
            outbox.append_events(tx.conn, [("m", "m.r", {"i": i}) for i in range(50)], Lane.BULK)
        # the same prepared statement, bound for one lane then the other, answers each correctly
        for _ in range(2):
            assert [r.seq for r in outbox.fetch(conn, Lane.CRITICAL, 0, 10)] == [51]
            assert [r.seq for r in outbox.fetch(conn, Lane.BULK, 49, 3)] == [50, 52, 53]


def test_an_old_store_swaps_the_lane_index_in_place(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    migrate(conn, upto=LATEST - 1)
    conn.execute("BEGIN")
    outbox.append_event(conn, "alert", "alert.raised", {"key": "k"})
    outbox.append_event(conn, "meter", "meter.reading", {"kwh": 1.5}, Lane.BULK)
    conn.execute("COMMIT")
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'outbox_lane_seq'").fetchone()[0] == 1
    conn.close()
    with Store(db) as store:
        assert store.schema_version == LATEST
        names = {r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'index' "
                                                "AND tbl_name = 'outbox'")}
        assert names == {"outbox_critical"}
        assert [r.seq for r in outbox.fetch(store.connection(), Lane.CRITICAL, 0, 10)] == [1]
        assert store.integrity_check() == "ok"


def test_a_batch_with_one_odd_value_is_encoded_event_by_event(tmp_path: Path) -> None:
    events = [("meter", "meter.reading", {"v": 1}), ("meter", "meter.reading", {"v": 10 ** 30}),
              ("meter", "meter.reading", {"v": 3})]
    with Store(tmp_path / "s.db") as store:
        with store.transaction() as tx:
            assert outbox.append_events(tx.conn, events, Lane.BULK, records=False) == []
        rows = outbox.fetch(store.connection(), Lane.BULK, 0, 10)
    assert [json.loads(r.data)["v"] for r in rows] == [1, 10 ** 30, 3]
