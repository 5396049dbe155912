"""The touchscreen: the Kivy app, its screens, the input method and the on-screen simulator panel.

Everything but the screen (store, services, printer, readers) is ``lobby.kiosk_runtime``;
with ``--simulate`` its readers are PN532 simulators started by ``drivers.nfc.sim.launch``.

May import: kivy, lobby, mqtt_bridge and drivers (the top layer; nothing imports kiosk,
except ``lobby kiosk`` starting ``kiosk.main``).
"""
