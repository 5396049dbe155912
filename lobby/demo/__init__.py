"""The demo: the example configuration on simulated hardware with a local broker.

It runs ``lobby gateway --simulate`` (and, when there is a display, ``lobby kiosk
--simulate``) as child processes and plays a scenario through the simulators'
control sockets (:mod:`drivers.sim.paths` names them).

May import: the rest of lobby, mqtt_bridge and drivers; never kiosk (it starts the
kiosk as a process).
"""
