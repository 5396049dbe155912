"""The durable store: one SQLite file (WAL), migrations, and the transactional outbox."""

from .database import Store, StoreError, StoreFullError, Transaction, connect
from .migrations import LATEST as SCHEMA_VERSION, SchemaTooNewError
from .outbox import EventRecord, Lane

__all__ = ["EventRecord", "Lane", "SCHEMA_VERSION", "SchemaTooNewError", "Store", "StoreError",
           "StoreFullError", "Transaction", "connect"]
