"""When is a deadline provably past? Evidence that survives reboots, clock steps and late syncs.

A Raspberry Pi has no battery clock. Its wall clock may be hours or days off until NTP
synchronises it, NTP may step it at any moment, and a reboot loses the monotonic clock.
A false overdue alert pages a supervisor for nothing and teaches staff to ignore alerts,
so the rule here is: **an alert fires only on evidence that the deadline has really
passed**. Two kinds of evidence count:

1. *Elapsed time.* Within the boot that started a clock, the monotonic clock
   (CLOCK_BOOTTIME) measures exactly how long it has run. Across reboots only a lower
   bound is known: `boot_spans` records, for each boot, the first and last moment this
   software saw (every SLA check and every clock start writes it). The elapsed time is at
   least: what the starting boot saw after the clock started, plus every later boot's seen
   span, plus the current boot's. Downtime and the unseen ends of boots are not counted,
   so the bound is never too long. It proves a deadline only when the clock's length is
   itself known to be no shorter than the truth (`seconds_safe`): a fixed duration (2 h,
   15 min) always is; a working-day or same-day deadline taken while the clock was
   unsynced is not (the day it was counted from may be wrong).
2. *A synchronised wall clock after a reboot.* Once NTP has synced, the wall clock is
   the truth, and a due time that was anchored on true time (`anchored` 1: taken while
   synced or re-anchored exactly within its boot; 2: re-anchored after a reboot on the
   latest possible start, so never earlier than the truth) can be compared with it.
   Within the starting boot the monotonic clock is preferred: a wall step there
   neither fires nor delays an alert.

An unsynchronised wall clock is never evidence on its own: after a reboot with the clock
unsynced, only the elapsed evidence can fire an alert (stricter than asking wall and
elapsed evidence to agree, because the elapsed bound alone is already sound). The cost
of this honesty is that an alert may come late by the time the Pi was switched off, or
wait for NTP when a working-day deadline was counted from an unsynced date; it never
comes early.
"""

from __future__ import annotations

from typing import Any

from mqtt_bridge.clock import Instant, parse_ts
from mqtt_bridge.store import Transaction

_NS = 1_000_000_000


def note_boot(tx: Transaction, now: Instant) -> None:
    """Record that this boot was seen at `now` (first and last sightings, in boot order)."""
    if not now.boot_id:
        return
    tx.execute("INSERT INTO boot_spans (boot_id, first_mono_ns, last_mono_ns, first_ts, last_ts) "
               "VALUES (?, ?, ?, ?, ?) ON CONFLICT(boot_id) DO UPDATE SET "
               "first_mono_ns = min(first_mono_ns, excluded.first_mono_ns), "
               "last_mono_ns = max(last_mono_ns, excluded.last_mono_ns), last_ts = excluded.last_ts",
               (now.boot_id, now.mono_ns, now.mono_ns, now.ts, now.ts))


def elapsed_lower_bound(tx: Transaction, clock: dict[str, Any], now: Instant) -> float:
    """Seconds that have certainly passed since the clock started (exact within its boot)."""
    if clock["boot_id"] == now.boot_id:
        return max(0.0, (now.mono_ns - clock["mono_ns"]) / _NS)
    spans = tx.execute("SELECT boot_id, first_mono_ns, last_mono_ns FROM boot_spans ORDER BY id").fetchall()
    order = [s[0] for s in spans]
    total = 0.0
    if clock["boot_id"] in order:
        start = order.index(clock["boot_id"])
        _, _, last = spans[start]
        total += max(0, last - clock["mono_ns"]) / _NS
        later = spans[start + 1:]
    else:  # the starting boot was never recorded: only the current boot is surely later
        later = [s for s in spans if s[0] == now.boot_id]
    for boot_id, first, last in later:
        end = now.mono_ns if boot_id == now.boot_id else last
        total += max(0, end - first) / _NS
    return total


def past(tx: Transaction, clock: dict[str, Any], now: Instant, extra_s: float = 0.0) -> bool:
    """True only on evidence that the clock's deadline plus `extra_s` has passed (see the module doc)."""
    seconds_safe = bool(clock["seconds_safe"])
    if clock["boot_id"] == now.boot_id:
        return seconds_safe and (now.mono_ns - clock["mono_ns"]) / _NS >= clock["due_in_s"] + extra_s
    if now.synced and clock["anchored"] and (now.wall - parse_ts(clock["due_ts"])).total_seconds() >= extra_s:
        return True
    return seconds_safe and elapsed_lower_bound(tx, clock, now) >= clock["due_in_s"] + extra_s
