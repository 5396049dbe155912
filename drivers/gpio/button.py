"""A lobby panel push button on gpiozero, with debounce, long press and stuck detection.

Threading model
---------------
Three threads touch a :class:`PanelButton`:

1. **gpiozero's callback thread** (the lgpio/RPi.GPIO/pigpio event thread; under
   the mock factory, whichever thread calls ``drive_low()``/``drive_high()``).
   It only stamps each raw edge with ``time.monotonic()`` and queues it, so it
   never waits on our code and no edge is missed.
2. **the logic thread** (``<id>-logic``) takes edges off that queue, runs the
   debounce / hold / stuck state machine (:class:`~drivers.gpio.debounce.ButtonLogic`)
   on the edges' own timestamps and updates health.
3. **the dispatch thread** (``<id>-dispatch``) calls ``when_pressed`` and
   ``when_long_pressed`` one event at a time, in order. A slow callback only
   delays later callbacks; their events wait in a queue (up to ``max_pending``)
   and are not lost.

Debouncing is done here in software, the same way on every pin factory, so the
mock pins used in tests and the demo behave like the real ones. The pin
backend's own debounce is therefore left off.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable

from gpiozero.input_devices import Button
from gpiozero.pins import Factory

from drivers.gpio.debounce import ButtonEvent, ButtonEventKind, ButtonLogic
from drivers.gpio.factory import default_pin_factory
from drivers.health import DeviceHealth, HealthReporter, HealthState

log = logging.getLogger(__name__)

ButtonCallback = Callable[[ButtonEvent], None]
_STOP = object()


class PanelButton:
    """A push button wired between a GPIO pin and ground (by default).

    :param button_id: the name used in events, health and the simulator.
    :param pin: GPIO pin (BCM number or a gpiozero pin name such as ``"GPIO17"``).
    :param pull_up: True (default) when the button shorts the pin to ground.
    :param bounce_time: seconds the contact must stay at a level before it counts.
    :param hold_time: seconds held that make a long press.
    :param stuck_time: seconds held after which the button is reported stuck.
    :param max_pending: events that may wait for a slow callback before new
        ones are dropped (and health turns degraded).
    """

    def __init__(self, button_id: str, pin: int | str, *, pull_up: bool = True,
                 bounce_time: float = 0.05, hold_time: float = 1.5,
                 stuck_time: float = 30.0, max_pending: int = 1000,
                 pin_factory: Factory | None = None) -> None:
        if not 0 <= bounce_time < hold_time < stuck_time:
            raise ValueError("PanelButton needs 0 <= bounce_time < hold_time < stuck_time")
        self.button_id = button_id
        self.bounce_time = bounce_time
        self.hold_time = hold_time
        self.stuck_time = stuck_time
        self.when_pressed: ButtonCallback | None = None
        self.when_long_pressed: ButtonCallback | None = None
        self._max_pending = max_pending
        self._health = HealthReporter(button_id)
        self._edges: queue.SimpleQueue = queue.SimpleQueue()
        self._events: deque = deque()
        self._cond = threading.Condition()
        self._edges_waiting = 0     # queued edges not yet seen by the logic thread
        self._dispatching = False   # a callback is running now
        self._dropped = 0
        self._overflowing = False   # events were dropped and the queue has not drained yet
        self._health_lock = threading.Lock()
        self._closed = False

        factory = pin_factory if pin_factory is not None else default_pin_factory()
        self._device = Button(pin, pull_up=pull_up, bounce_time=None, pin_factory=factory)
        self._active_high = not pull_up
        self._logic = ButtonLogic(button_id, bounce_s=bounce_time, hold_s=hold_time,
                                  stuck_s=stuck_time, pressed=self._device.is_pressed,
                                  now=time.monotonic())
        self._device.when_pressed = self._on_pressed_edge
        self._device.when_released = self._on_released_edge
        self._logic_thread = threading.Thread(target=self._run_logic, daemon=True,
                                              name=f"{button_id}-logic")
        self._dispatch_thread = threading.Thread(target=self._run_dispatch, daemon=True,
                                                 name=f"{button_id}-dispatch")
        self._logic_thread.start()
        self._dispatch_thread.start()
        self._health.set(HealthState.OK)

    # -- public state ------------------------------------------------------
    @property
    def pin(self):
        """The gpiozero pin object (a MockPin under the mock factory)."""
        return self._device.pin

    @property
    def active_high(self) -> bool:
        """True when a press drives the pin high (``pull_up=False``)."""
        return self._active_high

    @property
    def is_pressed(self) -> bool:
        """The debounced state."""
        with self._cond:
            return self._logic.pressed

    @property
    def is_stuck(self) -> bool:
        with self._cond:
            return self._logic.stuck

    @property
    def health(self) -> DeviceHealth:
        return self._health.health

    def subscribe_health(self, listener: Callable[[DeviceHealth], None]) -> None:
        self._health.subscribe(listener)

    @property
    def dropped_events(self) -> int:
        """Events dropped because ``max_pending`` callbacks were already waiting."""
        with self._cond:
            return self._dropped

    @property
    def closed(self) -> bool:
        return self._closed

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every edge so far is settled and every event delivered.

        Returns False on timeout. Meant for tests and the simulator.
        """
        with self._cond:
            return self._cond.wait_for(self._idle, timeout)

    # -- gpiozero's callback thread -----------------------------------------
    def _on_pressed_edge(self) -> None:
        self._queue_edge(True)

    def _on_released_edge(self) -> None:
        self._queue_edge(False)

    def _queue_edge(self, pressed: bool) -> None:
        t = time.monotonic()
        with self._cond:
            self._edges_waiting += 1
        self._edges.put((pressed, t))

    # -- the logic thread -----------------------------------------------------
    def _run_logic(self) -> None:
        while True:
            with self._cond:
                deadline = self._logic.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                item = self._edges.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is _STOP:
                return
            with self._cond:
                if item is None:
                    events = self._logic.advance(time.monotonic())
                else:
                    events = self._logic.edge(*item)
                    self._edges_waiting -= 1
                health_changed = any(self._route(event) for event in events)
                self._cond.notify_all()
            if health_changed:
                self._refresh_health()

    def _route(self, event: ButtonEvent) -> bool:
        """Queue *event* for its callback; True if it bears on health. ``_cond`` is held."""
        if event.kind is ButtonEventKind.STUCK:
            log.warning("button %s stuck pressed", self.button_id)
            return True
        if event.kind is ButtonEventKind.UNSTUCK:
            log.info("button %s released after being stuck", self.button_id)
            return True
        if len(self._events) >= self._max_pending:
            self._dropped += 1
            self._overflowing = True
            log.error("button %s: callbacks too slow, %s event dropped",
                      self.button_id, event.kind.value)
            return True
        self._events.append(event)
        return False

    def _refresh_health(self) -> None:
        """Set health from the current state; serialised so updates never cross."""
        with self._health_lock:
            with self._cond:
                stuck, overflowing = self._logic.stuck, self._overflowing
            if stuck:
                self._health.set(HealthState.DEGRADED, "stuck pressed")
            elif overflowing:
                self._health.set(HealthState.DEGRADED, "callbacks too slow: events dropped")
            else:
                self._health.set(HealthState.OK)

    # -- the dispatch thread ----------------------------------------------------
    def _run_dispatch(self) -> None:
        while True:
            with self._cond:
                self._dispatching = False
                if not self._events and self._overflowing:
                    self._overflowing = False
                    recovered = True
                else:
                    recovered = False
                self._cond.notify_all()
            if recovered:
                self._refresh_health()
            with self._cond:
                self._cond.wait_for(lambda: self._events)
                event = self._events.popleft()
                if event is _STOP:
                    self._cond.notify_all()
                    return
                self._dispatching = True
            self._deliver(event)

    def _deliver(self, event: ButtonEvent) -> None:
        callback = (self.when_long_pressed if event.kind is ButtonEventKind.LONG_PRESS
                    else self.when_pressed)
        if callback is None:
            return
        try:
            callback(event)
        except Exception:
            log.exception("button %s: %s callback failed", self.button_id, event.kind.value)

    def _idle(self) -> bool:
        return (self._edges_waiting == 0 and not self._logic.settling
                and not self._events and not self._dispatching)

    # -- lifecycle ----------------------------------------------------------
    def close(self) -> None:
        """Stop watching the pin; events already queued are still delivered."""
        if self._closed:
            return
        self._device.when_pressed = None
        self._device.when_released = None
        self._edges.put(_STOP)
        self._logic_thread.join(timeout=5)
        with self._cond:
            self._events.append(_STOP)
            self._closed = True
            self._cond.notify_all()
        self._dispatch_thread.join(timeout=5)
        self._device.close()

    def __enter__(self) -> PanelButton:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("pressed" if self.is_pressed else "released")
        return f"<PanelButton {self.button_id} pin={self._device.pin} {state}>"
