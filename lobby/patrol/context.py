"""What every part of the patrol engine shares: the config's lookups, the store, the clock, the site key."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from lobby.cardhash import load_key
from lobby.config.model import Checkpoint, Config, PatrolConfig, Route
from lobby.patrol.model import as_instant
from lobby.patrol.schedule import Occurrence, load_secret, occurrences
from mqtt_bridge.alerts import AlertEngine
from mqtt_bridge.clock import Clock, Instant
from mqtt_bridge.store import Lane, Store, Transaction


@dataclass
class PatrolContext:
    cfg: Config
    store: Store
    alerts: AlertEngine
    clock: Clock
    card_key: bytes
    secret: bytes  # seeds the random rounds (lobby.patrol.schedule)
    patrol: PatrolConfig = field(init=False)
    tz: zoneinfo.ZoneInfo = field(init=False)
    checkpoints: dict[str, Checkpoint] = field(init=False)
    routes: dict[str, Route] = field(init=False)
    cp_by_tag: dict[str, str] = field(init=False)
    cp_by_reader: dict[str, str] = field(init=False)
    reader_host: dict[str, str] = field(init=False)
    guard_by_card: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        cfg = self.cfg
        self.patrol = cfg.patrol
        self.tz = zoneinfo.ZoneInfo(cfg.site.timezone)
        self.checkpoints = {c.id: c for c in self.patrol.checkpoints}
        self.routes = {r.id: r for r in self.patrol.routes}
        self.cp_by_tag = {c.tag_uid: c.id for c in self.patrol.checkpoints if c.tag_uid}
        self.cp_by_reader = {c.reader: c.id for c in self.patrol.checkpoints if c.reader}
        for reader in cfg.readers:
            if reader.checkpoint:
                self.cp_by_reader.setdefault(reader.id, reader.checkpoint)
        self.reader_host = {r.id: r.host for r in cfg.readers}
        self.guard_by_card = {g.card_uid: g.id for g in self.patrol.guards}
        self._occurrences: dict[dt.date, list[Occurrence]] = {}

    @classmethod
    def build(cls, cfg: Config, store: Store, alerts: AlertEngine | None, clock: Clock | None,
              card_key: bytes | None, secret: bytes | None) -> "PatrolContext":
        return cls(cfg, store, alerts or AlertEngine(store), clock or Clock(),
                   card_key if card_key is not None else load_key(cfg.state_dir),
                   secret if secret is not None else load_secret(cfg.state_dir))

    def now(self) -> Instant:
        return as_instant(self.clock.instant())

    def checkpoint_name(self, checkpoint_id: str | None) -> str | None:
        if checkpoint_id is None:
            return None
        cp = self.checkpoints.get(checkpoint_id)
        return cp.name if cp else checkpoint_id

    def route_name(self, route_id: str) -> str:
        route = self.routes.get(route_id)
        return route.name if route else route_id

    def site_day(self, moment: Instant | dt.datetime) -> str:
        wall = moment.wall if isinstance(moment, Instant) else moment
        return wall.astimezone(self.tz).date().isoformat()

    def occurrences(self, day: dt.date) -> list[Occurrence]:
        """The rounds the schedules plan for schedule day `day` (cached: a pure function of config and day)."""
        if day not in self._occurrences:
            if len(self._occurrences) > 8:
                self._occurrences.clear()
            self._occurrences[day] = occurrences(self.patrol, self.tz, day, self.secret, self.cfg.site.site_id)
        return self._occurrences[day]

    def emit(self, tx: Transaction, type_: str, data: dict[str, Any]) -> Any:
        # The envelope is stamped by the store like every other event (this machine's clock and boot,
        # which the bridge uses to tell live from backlog); the engine's own times are in `data`.
        return tx.emit("patrol", type_, data, Lane.CRITICAL)
