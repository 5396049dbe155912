"""The bridge to central: the durable store, the outbox, MQTT, commands in, alerts out.

Owns: the SQLite store with its migrations (the whole schema, at the bottom layer)
and the transactional outbox, the publisher (store-and-forward at QoS 1), the paho
client and topics, the command intake with the bridge's own commands (ping,
alert.ack), retained alerts, the payload schemas of the MQTT contract, and time
stamps (boot id, monotonic offset, sync state). Takes its own typed settings
(`settings.BridgeSettings`) and knows nothing of visitors, patrols or meters.
May import: drivers (it does not need to). Never lobby or kiosk.
"""
