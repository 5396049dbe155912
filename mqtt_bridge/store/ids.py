"""Unique, time-ordered ids for events and records (UUIDv7, RFC 9562)."""

from __future__ import annotations

import binascii
import os
import random
import threading
import time

_lock = threading.Lock()
_last_ms = 0
_counter = 0
# Ids must be unique, not secret: a fast generator seeded from the OS is enough,
# re-seeded in a forked child so parent and child never share a sequence.
_rng = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _rng.seed(os.urandom(32)))

# the first byte of the random part carries the variant (binary 10) in its top two bits
_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))
# the counter's three hex digits for every value, back to back (12,288 bytes)
_COUNTER_HEX = "".join(f"{i:03x}" for i in range(0x1000)).encode()


def uuid7() -> str:
    """A UUIDv7 string: 48-bit Unix milliseconds, a 12-bit counter, 62 random bits.

    The counter keeps ids made in the same millisecond in order within a process.
    """
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms <= _last_ms:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
            now_ms = _last_ms
        else:
            _last_ms = now_ms
            _counter = _rng.getrandbits(10)  # leave room to count up
        counter = _counter
        rand = _rng.getrandbits(62)
    value = (now_ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def uuid7_many(n: int) -> list[str]:
    """`n` UUIDv7 strings in increasing order, the same as `n` calls of :func:`uuid7`.

    One lock and one draw of random bytes for the batch, the millisecond formatted
    once per millisecond and the random parts turned to hex in one call: a poll
    cycle's readings get their ids at a fraction of the per-id cost.
    """
    global _last_ms, _counter
    if n <= 0:
        return []
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms <= _last_ms:
            ms, first = _last_ms, _counter + 1
        else:
            ms, first = now_ms, _rng.getrandbits(10)  # leave room to count up
        # a counter past 0xFFF borrows the next millisecond and starts again from 0
        last = first + n - 1
        if last <= 0xFFF:
            _last_ms, _counter = ms, last
        else:
            spill = last - 0x1000  # ids past the first millisecond, counted from 0
            _last_ms, _counter = ms + 1 + spill // 0x1000, spill % 0x1000
        rand = bytearray(_rng.randbytes(8 * n))
    rand[0::8] = rand[0::8].translate(_VARIANT)
    return _format(ms, first, n, binascii.hexlify(rand))


def _format(ms: int, counter: int, n: int, random_hex: bytes) -> list[str]:
    """The ids' text, one millisecond at a time (a counter past 0xFFF moves to the next)."""
    ids: list[str] = []
    done = 0
    while done < n:
        if counter > 0xFFF:
            ms, counter = ms + 1, 0
        count = min(n - done, 0x1000 - counter)
        ids += _same_millisecond(ms, counter, count, random_hex[16 * done:16 * (done + count)])
        counter += count
        done += count
    return ids


def _same_millisecond(ms: int, counter: int, count: int, random_hex: bytes) -> list[str]:
    """`count` ids of one millisecond from `counter` on, written column by column.

    Each id is 36 characters and only the counter (3) and random (16) columns differ
    between them; so the buffer starts as the template repeated, and each varying
    column is one strided copy for the whole batch: 19 copies in C instead of a
    formatted string per id. One split makes the list.
    """
    head = f"{ms & 0xFFFF_FFFF_FFFF:012x}"
    buffer = bytearray(f"{head[:8]}-{head[8:]}-7000-0000-000000000000\n".encode() * count)
    digits = _COUNTER_HEX[3 * counter:3 * (counter + count)]
    for column in range(3):
        buffer[15 + column::37] = digits[column::3]
    for column in range(4):
        buffer[19 + column::37] = random_hex[column::16]
    for column in range(12):
        buffer[24 + column::37] = random_hex[4 + column::16]
    return buffer.decode("ascii").split()
