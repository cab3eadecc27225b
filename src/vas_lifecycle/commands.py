"""Commands as records: what a caller asks the lifecycle to do, checked and
normalised by the facade (or built by the SMS channel from a parsed text), and
handed with a unit of work to the one handler of its kind
(:mod:`vas_lifecycle.handlers`).

A record carries only what the caller said. Everything else a handler needs (the
transaction, the instant, the policy in force, the renderer, ids and randomness)
comes from the unit of work, so a handler is ``handler(command, uow)`` and nothing
is relayed keyword by keyword.

The records are typed named tuples rather than attrs classes: one is made for every
command and dropped at its end, and a named tuple is made in less than half the time
of a frozen attrs instance (it is never stored, compared or hashed). Those that hold
a subscriber's number mask it in ``repr`` (C14a).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

import pendulum

from vas_lifecycle.catalog import Period, Service
from vas_lifecycle.errors import VasError
from vas_lifecycle.order import Order
from vas_lifecycle.privacy import mask_msisdn
from vas_lifecycle.records import Channel, DeliveryStatus, ReasonCode

__all__ = [
    "ChargePeriod",
    "ClaimRefund",
    "Confirm",
    "Decline",
    "FireDue",
    "KeyedRequest",
    "Pause",
    "Purge",
    "ReadSpOrder",
    "ReceiveText",
    "RecordCharge",
    "RecordRefund",
    "RecordUsage",
    "RefuseSp",
    "ReportDelivery",
    "Request",
    "Resume",
    "Unsubscribe",
]


class KeyedRequest(NamedTuple):
    """A request made with a caller's idempotency key: the key, whose keys it is among
    (the asking SP, or ``""``), and a digest of the request's arguments."""

    scope: str
    key: str
    fingerprint: str


def _masked(record: NamedTuple, *numbers: str, hidden: str = "") -> str:
    """``repr`` of a record with the subscriber numbers among its fields masked and the
    field ``hidden`` (a subscriber's text) left out."""
    shown = (
        f"{name}={(mask_msisdn(value) if name in numbers else value)!r}"
        for name, value in zip(record._fields, record, strict=True)
        if name != hidden
    )
    return f"{type(record).__name__}({', '.join(shown)})"


class Request(NamedTuple):
    """Order ``service`` for ``msisdn`` (C1, C5, C6, C13)."""

    msisdn: str
    service: Service
    channel: Channel
    actor: str
    text: str | None
    language: str
    keyed: KeyedRequest | None = None
    #: CT1: the subscription a trial converts to, when the subscriber consented to it
    converts_to: Service | None = None

    def __repr__(self) -> str:
        return _masked(self, "msisdn", "actor")


class _Answer(NamedTuple):
    """A subscriber's answer to an order awaiting confirmation, by number and channel,
    with the code it quoted (C3). ``answerable`` is the subscriber's answerable orders
    when the caller (the SMS channel) has already read them in the same unit of work."""

    order_id: str
    msisdn: str
    channel: Channel
    code: str | None
    text: str | None
    answerable: Sequence[Order] | None = None
    #: the consent gateway's id of this consent (IN1), when it came through one
    attestation: str | None = None

    def __repr__(self) -> str:
        return _masked(self, "msisdn")


class Confirm(_Answer):
    """The subscriber's second confirmation of an order (C1, C3, C13)."""

    __slots__ = ()


class Decline(_Answer):
    """The subscriber says no to an order awaiting confirmation."""

    __slots__ = ()


class Unsubscribe(NamedTuple):
    """Cancel an order now, from any live state (C7)."""

    order_id: str
    channel: Channel
    actor: str | None
    text: str | None


class _Hold(NamedTuple):
    """A subscriber or the operator pausing or resuming a paid subscription (never an
    SP: the facade refuses the SP's platform as a channel)."""

    order_id: str
    channel: Channel
    actor: str | None
    text: str | None


class Pause(_Hold):
    """Pause an active subscription: nothing is charged until it resumes."""

    __slots__ = ()


class Resume(_Hold):
    """Resume a paused subscription."""

    __slots__ = ()


class FireDue(NamedTuple):
    """Fire up to ``batch`` due timers (C1 expiry, C6 reminder and end)."""

    batch: int


class RecordCharge(NamedTuple):
    """Record a charge that C11 allows, idempotent by ``key``."""

    order_id: str
    amount: Decimal
    key: str
    period_start: pendulum.DateTime | None


class RecordRefund(NamedTuple):
    """Give back ``amount`` (None: all that is left) of the charge ``charge_key``
    (None: the order's latest with something left), idempotent by ``key``."""

    order_id: str
    key: str
    amount: Decimal | None
    reason: str
    charge_key: str | None
    actor: str | None
    channel: Channel | None


class RecordUsage(NamedTuple):
    """A use of a subscription at ``at`` (None: now), for the inactivity rule (UK6)."""

    order_id: str
    at: pendulum.DateTime | None


class ClaimRefund(NamedTuple):
    """The subscriber claims an activation was wrongful (IN5): inside the policy's
    refund window the order's charges so far become due for a refund."""

    order_id: str
    channel: Channel
    actor: str | None
    text: str | None


class ChargePeriod(NamedTuple):
    """One batch of a billing pass: charge the next ``limit`` subscriptions charged per
    ``period`` (ids above ``after``) for the period ``period_key`` starting at
    ``start``, as much as C11 and C15 allow."""

    period: Period
    period_key: str
    start: pendulum.DateTime
    after: str | None
    limit: int


class Purge(NamedTuple):
    """Delete the finished orders that ended before ``cutoff`` (C14)."""

    cutoff: pendulum.DateTime


class ReceiveText(NamedTuple):
    """One inbound text from ``msisdn`` to the number ``to``; ``seen`` is the gateway's
    message id (handled at most once)."""

    msisdn: str
    to: str
    body: str
    seen: str | None

    def __repr__(self) -> str:
        return _masked(self, "msisdn", hidden="body")


class ReportDelivery(NamedTuple):
    """What a gateway reports about a notice it was handed."""

    notice_id: str
    status: DeliveryStatus
    detail: str


class RefuseSp(NamedTuple):
    """Book an SP's reach past its own services or orders against it, then refuse
    with ``error``."""

    sp_id: str
    reason: ReasonCode
    msisdn: str
    order_id: str | None
    evidence: str
    error: VasError
    keyed: KeyedRequest | None = None

    def __repr__(self) -> str:
        return _masked(self, "msisdn")


class ReadSpOrder(NamedTuple):
    """An order as the SP API shows it to ``sp_id``: only its own."""

    sp_id: str
    order_id: str
