"""Store port and the adapters that implement it."""

from vas_lifecycle.store.base import Delivery, Store, Transaction
from vas_lifecycle.store.memory import MemoryStore
from vas_lifecycle.store.postgres import PostgresStore
from vas_lifecycle.store.sqlite import SQLiteStore

__all__ = ["Delivery", "MemoryStore", "PostgresStore", "SQLiteStore", "Store", "Transaction"]
