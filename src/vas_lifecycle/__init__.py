"""vas_lifecycle: consent-safe lifecycle of value-added-service orders.

Nobody is charged for a service they did not confirm, every trial ends by itself
after a reminder, and leaving always works.
"""

import logging

from vas_lifecycle.catalog import Catalog, OfferKind, Period, Service
from vas_lifecycle.clock import Clock, ManualClock, SystemClock
from vas_lifecycle.errors import (
    BatchError,
    CallbackError,
    ChargeRefusedError,
    ClockError,
    ConcurrencyError,
    ConfirmationRefusedError,
    ForcedSubscriptionError,
    GatewayError,
    IdempotencyKeyError,
    InvalidAmountError,
    InvalidArgumentError,
    InvalidMsisdnError,
    InvalidStateError,
    PolicyError,
    RefundRefusedError,
    RetentionError,
    SpAccessError,
    StoreError,
    TemplateError,
    UnknownNoticeError,
    UnknownOrderError,
    UnknownServiceError,
    VasError,
)
from vas_lifecycle.lifecycle import Lifecycle
from vas_lifecycle.machine import mermaid_diagram
from vas_lifecycle.notices import ENGLISH, SIMPLIFIED_CHINESE, Notice, NoticeKind, TemplateSet
from vas_lifecycle.notify import CallbackNotifier, DeliveryRules, Notifier, RecordingNotifier
from vas_lifecycle.order import Event, EventKind, Order, Pack
from vas_lifecycle.policy import Channel, FirstPeriodRule, Policy, UnsubscribeScope
from vas_lifecycle.privacy import mask_msisdn
from vas_lifecycle.publisher import EventFeed
from vas_lifecycle.records import (
    Backlog,
    BillingSummary,
    Charge,
    ChargeDecision,
    CommandCount,
    DeliveryReport,
    DeliveryStatus,
    FeedDelivery,
    FeedEvent,
    FeedKind,
    QueueDepth,
    ReasonCode,
    Refund,
    RefundClaim,
    RefundDue,
    Spend,
    SpKey,
    SpViolation,
)
from vas_lifecycle.regimes import Regime, Version
from vas_lifecycle.states import LIVE_STATES, TERMINAL_STATES, OrderState, Trigger
from vas_lifecycle.store import (
    ConflictError,
    Delivery,
    MemoryStore,
    PostgresStore,
    SQLiteStore,
    Store,
    Transaction,
)
from vas_lifecycle.values import normalize_msisdn

__version__ = "0.1.0"  # the one place it is written (pyproject.toml reads it)

# a library logs and the application decides where to: without logging configured,
# nothing of ours reaches stderr through Python's last-resort handler
logging.getLogger("vas_lifecycle").addHandler(logging.NullHandler())

__all__ = [
    "ENGLISH",
    "LIVE_STATES",
    "SIMPLIFIED_CHINESE",
    "TERMINAL_STATES",
    "Backlog",
    "BatchError",
    "BillingSummary",
    "CallbackError",
    "CallbackNotifier",
    "Catalog",
    "Channel",
    "Charge",
    "ChargeDecision",
    "ChargeRefusedError",
    "Clock",
    "ClockError",
    "CommandCount",
    "ConcurrencyError",
    "ConfirmationRefusedError",
    "ConflictError",
    "Delivery",
    "DeliveryReport",
    "DeliveryRules",
    "DeliveryStatus",
    "Event",
    "EventFeed",
    "EventKind",
    "FeedDelivery",
    "FeedEvent",
    "FeedKind",
    "FirstPeriodRule",
    "ForcedSubscriptionError",
    "GatewayError",
    "IdempotencyKeyError",
    "InvalidAmountError",
    "InvalidArgumentError",
    "InvalidMsisdnError",
    "InvalidStateError",
    "Lifecycle",
    "ManualClock",
    "MemoryStore",
    "Notice",
    "NoticeKind",
    "Notifier",
    "OfferKind",
    "Order",
    "OrderState",
    "Pack",
    "Period",
    "Policy",
    "PolicyError",
    "PostgresStore",
    "QueueDepth",
    "ReasonCode",
    "RecordingNotifier",
    "Refund",
    "RefundClaim",
    "RefundDue",
    "RefundRefusedError",
    "Regime",
    "RetentionError",
    "SQLiteStore",
    "Service",
    "SpAccessError",
    "SpKey",
    "SpViolation",
    "Spend",
    "Store",
    "StoreError",
    "SystemClock",
    "TemplateError",
    "TemplateSet",
    "Transaction",
    "Trigger",
    "UnknownNoticeError",
    "UnknownOrderError",
    "UnknownServiceError",
    "UnsubscribeScope",
    "VasError",
    "Version",
    "__version__",
    "mask_msisdn",
    "mermaid_diagram",
    "normalize_msisdn",
]
