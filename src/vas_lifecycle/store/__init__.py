"""Store port and the adapters that implement it."""

from vas_lifecycle.store.base import (
    ChargeRecorder,
    ConflictError,
    ConnectionLostError,
    Delivery,
    FeedRecorder,
    GatewayRecorder,
    NoticeRecorder,
    OrderRecorder,
    PickSessionRecorder,
    RetryableError,
    SpKeyRecorder,
    Store,
    Transaction,
    Waiting,
)
from vas_lifecycle.store.memory import MemoryStore
from vas_lifecycle.store.postgres import PostgresStore
from vas_lifecycle.store.sqlite import SQLiteStore

__all__ = [
    "ChargeRecorder",
    "ConflictError",
    "ConnectionLostError",
    "Delivery",
    "FeedRecorder",
    "GatewayRecorder",
    "MemoryStore",
    "NoticeRecorder",
    "OrderRecorder",
    "PickSessionRecorder",
    "PostgresStore",
    "RetryableError",
    "SQLiteStore",
    "SpKeyRecorder",
    "Store",
    "Transaction",
    "Waiting",
]
