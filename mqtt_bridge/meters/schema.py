"""Store tables of the meter service (applied as migration 6 by mqtt_bridge.store.migrations)."""

SCHEMA = """
"""
