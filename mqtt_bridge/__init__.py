"""Lobby kiosk and IoT gateway: central MQTT bridge, store, and gateway services."""
