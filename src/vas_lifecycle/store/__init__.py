"""Store port and the adapters that implement it."""

from vas_lifecycle.store.base import (
    ChargeRecorder,
    ConflictError,
    ConnectionLostError,
    Delivery,
    EvidenceRecorder,
    FeedRecorder,
    KeyRecorder,
    LeasedQueue,
    NoticeRecorder,
    OrderRecorder,
    RetryableError,
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
    "EvidenceRecorder",
    "FeedRecorder",
    "KeyRecorder",
    "LeasedQueue",
    "MemoryStore",
    "NoticeRecorder",
    "OrderRecorder",
    "PostgresStore",
    "RetryableError",
    "SQLiteStore",
    "Store",
    "Transaction",
    "Waiting",
]
