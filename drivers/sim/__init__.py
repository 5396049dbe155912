"""Plumbing shared by every device simulator; the simulators themselves live with their device.

* ``pty``: a pseudo-terminal endpoint published under a stable symlink (the NFC
  and meter simulators speak their wire protocols on it);
* ``control``: the JSON-lines control channel over a Unix socket, through which
  tests, the demo and the kiosk's simulator panel steer a simulator in another
  process.

The simulators: :mod:`drivers.nfc.sim`, :mod:`drivers.gpio.sim`,
:mod:`drivers.meters.sim`, :mod:`drivers.printer.sim`.

May import: the standard library only; never lobby, kiosk or mqtt_bridge.
"""
