"""The press state machine on hand-made timestamps: exact and independent of threads."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.gpio import ButtonEventKind, ButtonLogic

BOUNCE, HOLD, STUCK = 0.05, 1.0, 30.0


def logic(**kwargs) -> ButtonLogic:
    return ButtonLogic("b", bounce_s=BOUNCE, hold_s=HOLD, stuck_s=STUCK, **kwargs)


def feed(machine: ButtonLogic, edges: list[tuple[bool, float]], end: float):
    events = []
    for pressed, t in edges:
        events += machine.edge(pressed, t)
    return events + machine.advance(end)


def kinds(events):
    return [e.kind for e in events]


def test_bouncing_contact_gives_one_press():
    edges = [(True, 1.000), (False, 1.002), (True, 1.004), (False, 1.007), (True, 1.010),
             (False, 1.300), (True, 1.303), (False, 1.305)]
    events = feed(logic(), edges, end=5.0)
    assert kinds(events) == [ButtonEventKind.PRESS]
    assert events[0].t_mono == 1.010
    assert events[0].duration_s == 1.305 - 1.010


def test_spike_shorter_than_bounce_is_ignored():
    assert feed(logic(), [(True, 1.0), (False, 1.03)], end=5.0) == []


def test_long_press_fires_at_hold_time_and_release_adds_nothing():
    machine = logic()
    machine.edge(True, 1.0)
    assert machine.advance(1.0 + HOLD - 0.01) == []
    events = machine.advance(1.0 + HOLD + 0.01)
    assert kinds(events) == [ButtonEventKind.LONG_PRESS]
    assert events[0].t_mono == 1.0
    assert feed(machine, [(False, 3.0)], end=5.0) == []


def test_release_just_before_hold_time_is_a_short_press():
    # The hold deadline passes while the release is still settling.
    events = feed(logic(), [(True, 1.0), (False, 1.0 + HOLD - 0.01)], end=5.0)
    assert kinds(events) == [ButtonEventKind.PRESS]


def test_bounce_at_hold_time_does_not_cancel_the_long_press():
    events = feed(logic(), [(True, 1.0), (False, 1.0 + HOLD - 0.01), (True, 1.0 + HOLD)],
                  end=1.0 + HOLD + 1.0)
    assert kinds(events) == [ButtonEventKind.LONG_PRESS]


def test_stuck_then_released_then_works_again():
    machine = logic()
    events = feed(machine, [(True, 1.0)], end=1.0 + STUCK + 1)
    assert kinds(events) == [ButtonEventKind.LONG_PRESS, ButtonEventKind.STUCK]
    assert machine.stuck
    # chatter while stuck: nothing
    assert feed(machine, [(False, 40.0), (True, 40.01)], end=45.0) == []
    events = feed(machine, [(False, 50.0)], end=51.0)
    assert kinds(events) == [ButtonEventKind.UNSTUCK]
    assert not machine.stuck
    events = feed(machine, [(True, 60.0), (False, 60.2)], end=61.0)
    assert kinds(events) == [ButtonEventKind.PRESS]


def test_button_down_at_start_gives_no_press_but_can_be_stuck():
    machine = logic(pressed=True, now=0.0)
    assert kinds(machine.advance(STUCK + 1)) == [ButtonEventKind.STUCK]
    assert kinds(feed(machine, [(False, 40.0)], end=41.0)) == [ButtonEventKind.UNSTUCK]
    machine = logic(pressed=True, now=0.0)
    assert feed(machine, [(False, 2.0)], end=3.0) == []


@st.composite
def press_trains(draw):
    """Edges for N clean presses and releases, each followed by optional contact chatter
    (flips that come back within the bounce time), plus arbitrary times to advance to."""
    t, edges = 1.0, []
    n = draw(st.integers(0, 12))
    for _ in range(n):
        for level in (True, False):
            edges.append((level, t))
            for _ in range(draw(st.integers(0, 3))):
                t += draw(st.floats(0.0001, BOUNCE / 10))
                edges.append((not level, t))
                t += draw(st.floats(0.0001, BOUNCE / 10))
                edges.append((level, t))
            longest = HOLD * 0.8 if level else 2.0
            t += draw(st.floats(BOUNCE * 1.5, longest))
    advances = sorted(draw(st.lists(st.floats(0.0, t + 5), max_size=10)))
    return n, edges, advances, t + 5


@settings(max_examples=150, deadline=None)
@given(press_trains())
def test_every_clean_press_is_counted_once_however_often_time_is_advanced(train):
    n, edges, advances, end = train
    machine = logic()
    events = []
    pending = list(advances)
    for pressed, t in edges:
        while pending and pending[0] < t:
            events += machine.advance(pending.pop(0))
        events += machine.edge(pressed, t)
    events += machine.advance(end)
    assert kinds(events) == [ButtonEventKind.PRESS] * n
    assert all(a.t_mono < b.t_mono for a, b in zip(events, events[1:]))
