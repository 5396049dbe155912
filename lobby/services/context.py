"""What every lobby service shares: the store, the config, the clock, the site key."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import logging
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mqtt_bridge.alerts import AlertEngine
from lobby.config import Config
from mqtt_bridge.store import Store, StoreError, Transaction

from mqtt_bridge.clock import Clock, Instant, parse_ts
from lobby.services.messages import STORE_BUSY, Outcome

if TYPE_CHECKING:
    from lobby.services.guessing import GuessLimiter

log = logging.getLogger(__name__)


@dataclass
class ServiceContext:
    store: Store
    cfg: Config
    card_key: bytes  # the site's HMAC key (lobby.cardhash.load_key)
    clock: Clock = field(default_factory=Clock)
    alerts: AlertEngine | None = None
    printer: Any = None  # drivers.printer.BadgePrinter, or None when the kiosk has none

    def __post_init__(self) -> None:
        if self.alerts is None:
            self.alerts = AlertEngine(self.store)
        self.tz = zoneinfo.ZoneInfo(self.cfg.site.timezone)

    # ------------------------------------------------------------------ time

    def now(self, now: Instant | None = None) -> Instant:
        return now if now is not None else self.clock.instant()

    def local(self, moment: Instant | dt.datetime | str) -> dt.datetime:
        if isinstance(moment, Instant):
            moment = moment.wall
        elif isinstance(moment, str):
            moment = parse_ts(moment)
        return moment.astimezone(self.tz)

    def site_day(self, moment: Instant | dt.datetime | str) -> str:
        return self.local(moment).date().isoformat()

    def day_bounds(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        """The UTC start and end of a site-local day."""
        start = dt.datetime.combine(day, dt.time(0), self.tz)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), self.tz)
        return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)

    # ------------------------------------------------------------------ keyed hashing

    def guesses(self, kind: str, max_failures: int, window_min: float, delay_max_s: float) -> "GuessLimiter":
        """The store-backed limiter for one kind of lookup at this kiosk (lobby.services.guessing)."""
        from lobby.services.guessing import GuessLimiter, GuessPolicy

        return GuessLimiter(self.store, self.alerts, kind, self.cfg.site.gateway_id,
                            GuessPolicy(max_failures, window_min * 60, delay_max_s))

    def keyed_hash(self, *parts: str) -> str:
        return hmac.new(self.card_key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------ transactions

    def reader(self) -> Transaction:
        """This thread's connection for reads only (no BEGIN, no write lock; emitting would fail)."""
        return Transaction(self.store.connection())

    @contextlib.contextmanager
    def tx(self, tx: Transaction | None = None) -> Iterator[Transaction]:
        """The caller's transaction (a command handler's) or a new one."""
        if tx is not None:
            yield tx
        else:
            with self.store.transaction() as own:
                yield own


def row(tx: Transaction, sql: str, params: Any = ()) -> dict[str, Any] | None:
    cursor = tx.execute(sql, params)
    found = cursor.fetchone()
    if found is None:
        return None
    return dict(zip([d[0] for d in cursor.description], found))


def rows(tx: Transaction, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    cursor = tx.execute(sql, params)
    names = [d[0] for d in cursor.description or ()]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


def store_failure(exc: StoreError, what: str) -> Outcome[Any]:
    """The store refused the write: say so politely, log without personal data."""
    log.error("%s not saved: %s", what, type(exc).__name__)
    return Outcome.failure("store_error", STORE_BUSY)
