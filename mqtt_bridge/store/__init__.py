"""The durable store: one SQLite file (WAL), migrations, and the transactional outbox.

May import: the standard library, the rest of mqtt_bridge and drivers; never lobby or kiosk.
"""

from mqtt_bridge.store.database import Store, StoreError, StoreFullError, Transaction, connect
from mqtt_bridge.store.migrations import LATEST as SCHEMA_VERSION, SchemaTooNewError
from mqtt_bridge.store.outbox import EventRecord, Lane

__all__ = ["EventRecord", "Lane", "SCHEMA_VERSION", "SchemaTooNewError", "Store", "StoreError",
           "StoreFullError", "Transaction", "connect"]
