"""Store port and the adapters that implement it."""

from vas_lifecycle.store.base import (
    ConflictError,
    ConnectionLostError,
    Delivery,
    RetryableError,
    Store,
    Transaction,
)
from vas_lifecycle.store.memory import MemoryStore
from vas_lifecycle.store.postgres import PostgresStore
from vas_lifecycle.store.sqlite import SQLiteStore

__all__ = [
    "ConflictError",
    "ConnectionLostError",
    "Delivery",
    "MemoryStore",
    "PostgresStore",
    "RetryableError",
    "SQLiteStore",
    "Store",
    "Transaction",
]
