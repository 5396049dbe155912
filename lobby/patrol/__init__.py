"""The patrol engine (巡更): rounds, checkpoint scans, missed-checkpoint alerts, wand imports, reports.

    from lobby.patrol import PatrolEngine
    engine = PatrolEngine(cfg, store, alerts)          # one per process (kiosk, gateway, CLI)
    result = engine.scan(uid, reader_id)               # a tap: ScanResult with zh/en messages
    engine.tick()                                      # gateway: every few seconds, the only timer
    engine.import_file("wand.csv")                     # a handheld wand's upload
    engine.report(datetime.date(2026, 11, 25))         # one day's summary

All state is in the store (see schema.py); the rules are in engine.py's docstring.
"""

from mqtt_bridge.clock import Clock, Instant, ManualClock, SystemClock
from lobby.patrol.engine import ImportResult, PatrolEngine, ScanResult, TickResult
from lobby.patrol.wand import WandFileError

__all__ = ["Clock", "ImportResult", "Instant", "ManualClock", "PatrolEngine", "ScanResult", "SystemClock",
           "TickResult", "WandFileError"]
