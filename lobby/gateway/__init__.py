"""The headless gateway service: meters, patrol, buttons, device health, on top of the bridge.

``assemble.build_gateway`` picks the components, real or simulated (``--simulate``:
the simulators of :mod:`drivers`, their endpoints in the simulator folder of
:mod:`drivers.sim.paths`).

May import: the rest of lobby, mqtt_bridge and drivers; never kiosk.
"""
