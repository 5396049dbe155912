"""Store tables of the patrol engine (applied as migration 5 by mqtt_bridge.store.migrations)."""

SCHEMA = """
"""
