"""Few statement shapes for statements whose length follows the data.

Python's sqlite3 keeps up to 128 prepared statements per connection, one per distinct SQL
text, and SQLite keeps each one compiled: about 1.5 KiB per row of a multi-row INSERT and
a few hundred bytes per `?` of an `IN (...)` list. Were a batch of n rows written, or n
acknowledged rows deleted, by a statement made for exactly n, every new batch size would add
a statement to the cache: a connection that had seen batches of every size from 1 to 300
held 8 MiB of compiled statements (measured, `sqlite3_memory_used`), and a gateway whose
poll batches and acknowledgements vary in size crept up for hours.

So lengths are powers of two: a batch is written as chunks of 64, 32, ... 1 rows (at most
seven statements for any batch under 128), and an `IN` list is padded to the next power of
two with its own last value, which changes nothing it matches.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

MAX_ROWS_PER_INSERT = 64  # a batch of 100 rows: 64 + 32 + 4
MAX_IN_LIST = 128


def insert_chunks(rows: int) -> Iterator[tuple[int, int]]:
    """(start, size) chunks covering `rows`, every size a power of two up to MAX_ROWS_PER_INSERT."""
    start = 0
    while start < rows:
        size = min(MAX_ROWS_PER_INSERT, 1 << ((rows - start).bit_length() - 1))
        yield start, size
        start += size


@functools.lru_cache(maxsize=16)
def question_marks(count: int) -> str:
    """'?,?,...' for `count` parameters."""
    return ",".join("?" * count)


def padded_in(values: Sequence[T]) -> tuple[str, list[T]]:
    """The placeholders and parameters of `IN (...)` for 1 to MAX_IN_LIST values, padded to a
    power of two by repeating the last value (an `IN` list matches the same rows either way)."""
    if not 0 < len(values) <= MAX_IN_LIST:
        raise ValueError(f"an IN list of {len(values)} values: give 1 to {MAX_IN_LIST}")
    width = 1 << (len(values) - 1).bit_length()
    params = list(values)
    params.extend([params[-1]] * (width - len(params)))
    return question_marks(width), params


def padded_in_chunks(values: Sequence[T]) -> Iterator[tuple[str, list[T]]]:
    """`padded_in` for any number of values, MAX_IN_LIST at a time."""
    for start in range(0, len(values), MAX_IN_LIST):
        yield padded_in(values[start:start + MAX_IN_LIST])
