"""What the event feed says: which changes of an order are published, and as what.

A billing backend provisions a service when it is activated (or its trial starts) and
stops it when the order ends; it bills what ``charge_recorded`` says. Each change
becomes one :class:`~vas_lifecycle.records.FeedEvent` with a stable id, written in
the same unit of work as the change (:mod:`vas_lifecycle.unit_of_work`) and delivered
after the commit (:mod:`vas_lifecycle.publisher`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import pendulum

from vas_lifecycle.order import EventKind, Order
from vas_lifecycle.records import Channel, Charge, FeedEvent, FeedKind

__all__ = ["PUBLISHED", "charge_event", "order_event"]

#: The events that change what a billing backend must do, and the feed kind of each.
#: A request, a confirmation request and a reminder change nothing for it.
PUBLISHED: Final[Mapping[EventKind, FeedKind]] = {
    EventKind.CONSENT_GRANTED: FeedKind.ACTIVATED,
    EventKind.TRIAL_STARTED: FeedKind.TRIAL_STARTED,
    EventKind.TRIAL_ENDED: FeedKind.TRIAL_ENDED,
    EventKind.ORDER_COMPLETED: FeedKind.COMPLETED,
    EventKind.PURCHASE_CONFIRMED: FeedKind.COMPLETED,
    EventKind.ORDER_CANCELLED: FeedKind.CANCELLED,
    EventKind.CONFIRMATION_EXPIRED: FeedKind.EXPIRED,
    EventKind.CONSENT_DECLINED: FeedKind.DECLINED,
    EventKind.ORDER_REJECTED: FeedKind.REJECTED,
    EventKind.ORDER_PAUSED: FeedKind.PAUSED,
    EventKind.ORDER_RESUMED: FeedKind.RESUMED,
    EventKind.REFUND_RECORDED: FeedKind.REFUND_RECORDED,
    EventKind.ORDER_RENEWED: FeedKind.RENEWED,
    EventKind.ORDER_LAPSED: FeedKind.LAPSED,
    EventKind.TRIAL_CONVERTED: FeedKind.CONVERTED,
    EventKind.OPT_OUT_FLAGGED: FeedKind.OPT_OUT_FLAGGED,
}


#: The facts of an event that the feed passes on (never a confirmation code).
_FACTS: Final = ("reason", "from_state", "key", "charge_key", "amount", "valid_until")


def order_event(
    order: Order,
    kind: FeedKind,
    at: pendulum.DateTime,
    channel: Channel | None,
    data: Mapping[str, str],
) -> FeedEvent:
    """The feed event of a change that left ``order`` as it is (at its version)."""
    facts = {"price": str(order.price), "period": order.period.value}
    if channel is not None:
        facts["channel"] = channel.value
    get = data.get  # an event's data answers a miss without raising
    for name in _FACTS:
        value = get(name)
        if value is not None:
            facts[name] = value
    return FeedEvent(
        f"order:{order.id}:{order.version}",
        kind,
        order.id,
        order.version,
        at,
        order.msisdn,
        order.service_code,
        order.sp_id,
        order.state.value,
        facts,
    )


def charge_event(order: Order, charge: Charge) -> FeedEvent:
    """The feed event of a charge recorded against ``order`` (charge keys are unique)."""
    return FeedEvent(
        f"charge:{charge.key}",
        FeedKind.CHARGE_RECORDED,
        order.id,
        charge.order_version,
        charge.at,
        order.msisdn,
        order.service_code,
        order.sp_id,
        order.state.value,
        {
            "price": str(order.price),
            "period": order.period.value,
            "key": charge.key,
            "amount": str(charge.amount),
            "period_key": charge.period_key,
        },
    )
