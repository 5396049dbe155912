"""The clock the lobby services use: the product's one injectable clock (mqtt_bridge.clock)."""

from mqtt_bridge.clock import Clock, Instant, ManualClock, SystemClock, parse_ts

__all__ = ["Clock", "Instant", "ManualClock", "SystemClock", "parse_ts"]
