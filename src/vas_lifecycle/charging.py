"""Pure charge decisions (C11, C12, C15): may this amount be charged on this order now?

Nothing here reads a clock or a store: the handler passes in the order and its
charges, so the rule is tested (and reused by the test kit) on plain values.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import pendulum

from vas_lifecycle.catalog import OfferKind, Period
from vas_lifecycle.clock import as_utc, local_time
from vas_lifecycle.order import Order
from vas_lifecycle.policy import FirstPeriodRule, Policy
from vas_lifecycle.records import Channel, Charge, ChargeDecision, ReasonCode
from vas_lifecycle.states import OrderState

__all__ = ["decide_charge", "expected_amount", "period_key"]


def period_key(order: Order, period_start: dt.datetime | None, policy: Policy) -> str:
    """The billing period a charge is for, as a stable key (per order)."""
    if order.kind is OfferKind.ON_DEMAND or period_start is None:
        return "use"
    return _key(order.period, local_time(period_start, policy.timezone))


def _key(period: Period, local: dt.datetime) -> str:
    """The key of the ``period`` that contains the local time ``local``."""
    if period is Period.MONTH:
        return f"{local.year:04d}-{local.month:02d}"
    if period is Period.WEEK:
        year, week, _ = local.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return local.date().isoformat()


def _period_start(period: Period, local: dt.datetime) -> dt.datetime:
    """The start of the ``period`` that contains the local time ``local``."""
    day = local.date()
    if period is Period.MONTH:
        day = day.replace(day=1)
    elif period is Period.WEEK:
        day = day - dt.timedelta(days=day.weekday())
    return dt.datetime(day.year, day.month, day.day, tzinfo=local.tzinfo)


def expected_amount(order: Order, period_start: dt.datetime | None, policy: Policy) -> Decimal:
    """The amount a period of ``order`` may be charged: the frozen price, or C15's half."""
    if order.activated_at is None or period_start is None:
        return order.price
    return _expected(
        order,
        local_time(period_start, policy.timezone),
        local_time(order.activated_at, policy.timezone),
        policy,
    )


def _expected(
    order: Order, local_start: dt.datetime, activated: dt.datetime, policy: Policy
) -> Decimal:
    """C15: a monthly subscription activated with fewer than 15 days left in the month
    pays half for that first month (times are local)."""
    if (
        order.kind is OfferKind.SUBSCRIPTION
        and order.period is Period.MONTH
        and policy.first_period is FirstPeriodRule.HALF_IF_LATE
        and _key(Period.MONTH, local_start) == _key(Period.MONTH, activated)
    ):
        days_left = calendar.monthrange(activated.year, activated.month)[1] - activated.day + 1
        if days_left < 15:
            return (order.price / 2).quantize(Decimal("0.01"))
    return order.price


def decide_charge(
    order: Order,
    amount: Decimal,
    *,
    period_start: dt.datetime | None,
    now: pendulum.DateTime,
    charges: Sequence[Charge],
    policy: Policy,
) -> ChargeDecision:
    """May ``amount`` be charged on ``order`` for the period starting ``period_start`` (C11)?"""
    state = order.state
    if order.kind is OfferKind.ON_DEMAND:
        if state is not OrderState.COMPLETED:
            return ChargeDecision(False, ReasonCode.NOT_ACTIVE)
        if order.request_channel is Channel.SP_API and order.consent_channel is None:
            return ChargeDecision(False, ReasonCode.NO_CONSENT)  # C5a
        if order.fee_notice_id is None:
            return ChargeDecision(False, ReasonCode.NO_FEE_NOTICE)
        if charges:
            return ChargeDecision(False, ReasonCode.ALREADY_CHARGED)
        if amount != order.price:
            return ChargeDecision(False, ReasonCode.AMOUNT_MISMATCH, order.price)
        return ChargeDecision(True, ReasonCode.ALLOWED, order.price)
    if state in (OrderState.TRIAL, OrderState.TRIAL_EXPIRING) or order.kind is OfferKind.TRIAL:
        return ChargeDecision(False, ReasonCode.IN_TRIAL)
    if state is OrderState.AWAITING_CONFIRMATION:
        return ChargeDecision(False, ReasonCode.AWAITING_CONFIRMATION)
    start = as_utc(period_start) if period_start else now
    if state is OrderState.CANCELLED and order.ended_at is not None and start > order.ended_at:
        return ChargeDecision(False, ReasonCode.AFTER_CANCELLATION)
    if state is not OrderState.ACTIVE:
        return ChargeDecision(False, ReasonCode.NOT_ACTIVE)
    if order.activated_at is None or order.consent_channel is None:
        return ChargeDecision(False, ReasonCode.NO_CONSENT)
    if start > now:
        return ChargeDecision(False, ReasonCode.PERIOD_NOT_STARTED)
    local_start = local_time(start, policy.timezone)
    activated = local_time(order.activated_at, policy.timezone)
    if local_start < _period_start(order.period, activated):
        return ChargeDecision(False, ReasonCode.PERIOD_BEFORE_ACTIVATION)
    key = _key(order.period, local_start)
    if any(c.period_key == key for c in charges):
        return ChargeDecision(False, ReasonCode.DUPLICATE_PERIOD)
    expected = _expected(order, local_start, activated, policy)
    if amount != expected:
        return ChargeDecision(False, ReasonCode.AMOUNT_MISMATCH, expected)
    return ChargeDecision(True, ReasonCode.ALLOWED, expected)
