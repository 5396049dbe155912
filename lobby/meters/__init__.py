"""The gateway's meter service: config -> bus drivers, polling, alerts, consumption, simulation.

    from lobby.meters import MeterService, start_simulation

    cfg, sim = start_simulation(cfg)          # --simulate only: buses on ptys under <state_dir>/sim
    service = MeterService(cfg, store, alerts)
    service.start()
    ...
    service.stop(timeout=5)
    sim.stop()

Which canonical points a meter reads is decided in ``points.py`` (the point names and
units themselves are the meters' vocabulary, in ``drivers.meters.points``); alert rules
in ``analysis.py``; consumption in ``consumption.py``; the config -> bus drivers wiring in
``wiring.py``; the config -> simulated lines adapter in ``simulate.py`` (the simulation
itself is ``drivers.meters.sim.simulation``).

May import: drivers, mqtt_bridge and the rest of lobby; never kiosk.

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
    if name == "MeterSimulation":  # the simulators themselves: loaded only when named
        from drivers.meters.sim.simulation import MeterSimulation

        return MeterSimulation
    if name == "start_simulation":
        from lobby.meters.simulate import start_simulation

        return start_simulation
    raise AttributeError(name)
