"""Unique, time-ordered ids for events and records (UUIDv7, RFC 9562)."""

from __future__ import annotations

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
