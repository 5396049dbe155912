"""The gateway's meter service: config -> bus drivers, polling, alerts, consumption, simulation.

    from lobby.meters import MeterService, start_simulation

    cfg, sim = start_simulation(cfg)          # --simulate only: buses on ptys under <state_dir>/sim
    service = MeterService(cfg, store, alerts)
    service.start()
    ...
    service.stop(timeout=5)
    sim.stop()

Canonical point names are defined in ``points.py``; alert rules in ``analysis.py``;
consumption in ``consumption.py``; store tables in ``schema.py``.

Exports are resolved lazily, so importing ``lobby.meters.points`` (config checks,
Home Assistant discovery) does not load the bus drivers.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MeterService", "MeterSimulation", "start_simulation"]


def __getattr__(name: str) -> Any:
    if name == "MeterService":
        from lobby.meters.service import MeterService

        return MeterService
    if name in ("MeterSimulation", "start_simulation"):
        from lobby.meters import simulation

        return getattr(simulation, name)
    raise AttributeError(name)
