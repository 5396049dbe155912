"""The lobby: its rules, the gateway services and the `lobby` command.

It owns the product's configuration (``config``), the lobby services (``services``,
``taps``, ``patrol``), the gateway (``gateway``), the meter service (``meters``), the
kiosk's runtime without the screen (``kiosk_runtime``), the demo and the CLI. It
turns the configuration into plain arguments for the drivers (readers, meter specs,
the simulator folder).

May import: mqtt_bridge and drivers; not kiosk (the one exception: ``lobby kiosk``
starts ``kiosk.main``).
"""
