"""The PN532 simulator: the chip on a pseudo-terminal (for libnfc's ``pn532_uart``) and its control socket.

``pn532`` is the simulated chip (frame codec, command set, the tag in the field, the
pty loop; ``python -m drivers.nfc.sim.pn532`` runs one), ``pn532_control`` its
JSON-lines control API (present a card, remove it, status).

May import: the standard library and the shared simulator plumbing in
:mod:`drivers.sim`; never lobby, kiosk or mqtt_bridge.
"""
