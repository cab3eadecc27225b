"""Pure rule functions: confirmation validity (C1, C3, C13) and charge decisions (C11, C15).

Nothing here reads a clock, a store or a notifier: the facade passes in what it has
loaded, so these rules can be tested (and reused by the test kit) on plain values.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
from collections.abc import Sequence
from decimal import Decimal

import attrs
import pendulum

from vas_lifecycle.catalog import OfferKind, Period
from vas_lifecycle.clock import as_utc, local_time, zone
from vas_lifecycle.order import Order
from vas_lifecycle.policy import Channel, FirstPeriodRule, Policy
from vas_lifecycle.privacy import masked_repr, numbers_masked_repr
from vas_lifecycle.states import OrderState

__all__ = [
    "Charge",
    "ChargeDecision",
    "ConfirmationCheck",
    "ReasonCode",
    "SpViolation",
    "check_confirmation",
    "decide_charge",
    "expected_amount",
    "period_key",
]


class ReasonCode(enum.StrEnum):
    """Why a confirmation or a charge was allowed or refused."""

    # charges (C11)
    ALLOWED = "allowed"
    NOT_ACTIVE = "not_active"
    IN_TRIAL = "in_trial"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    AFTER_CANCELLATION = "after_cancellation"
    NO_CONSENT = "no_consent"
    NO_FEE_NOTICE = "no_fee_notice"
    AMOUNT_MISMATCH = "amount_mismatch"
    DUPLICATE_PERIOD = "duplicate_period"
    ALREADY_CHARGED = "already_charged"
    PERIOD_NOT_STARTED = "period_not_started"
    PERIOD_BEFORE_ACTIVATION = "period_before_activation"
    # confirmations (C1, C3)
    NOT_OPERATOR_CHANNEL = "not_operator_channel"
    WINDOW_CLOSED = "window_closed"
    WRONG_CODE = "wrong_code"
    CODE_REQUIRED = "code_required"
    REQUEST_NOT_SENT = "request_not_sent"  # C1a: the confirmation request never went out
    # forced subscription (C13): booked against the SP
    SP_CONFIRMATION = "sp_confirmation"
    FOREIGN_NUMBER = "foreign_number"
    TOO_FAST = "too_fast"
    DAILY_LIMIT = "daily_limit"
    # requests
    DUPLICATE_ORDER = "duplicate_order"


#: Refusals that are forced subscription and are booked against the SP (C13).
FORCED: frozenset[ReasonCode] = frozenset(
    {
        ReasonCode.SP_CONFIRMATION,
        ReasonCode.FOREIGN_NUMBER,
        ReasonCode.TOO_FAST,
        ReasonCode.DAILY_LIMIT,
    }
)


@attrs.frozen
class ChargeDecision:
    """The answer to "may I charge this?": always with a reason code."""

    allowed: bool
    reason: ReasonCode
    expected_amount: Decimal | None = None

    def __bool__(self) -> bool:
        return self.allowed


@attrs.frozen
class Charge:
    """A charge the billing backend recorded after ``may_charge`` allowed it.

    ``order_version`` is the order's version when it was charged, so an audit can
    replay exactly what the order looked like at that instant.
    """

    key: str
    order_id: str
    amount: Decimal
    period_key: str
    period_start: pendulum.DateTime | None
    at: pendulum.DateTime
    order_version: int


@attrs.frozen
class SpViolation:
    """Evidence of forced subscription by an SP (C13)."""

    id: str
    sp_id: str
    msisdn: str = attrs.field(repr=masked_repr)
    order_id: str | None
    reason: ReasonCode
    at: pendulum.DateTime
    channel: Channel | None
    evidence: str = attrs.field(repr=numbers_masked_repr)


@attrs.frozen
class ConfirmationCheck:
    """Outcome of :func:`check_confirmation`: ``reason is None`` means valid."""

    reason: ReasonCode | None
    detail: str = ""

    @property
    def forced(self) -> bool:
        return self.reason in FORCED


def check_confirmation(
    order: Order,
    *,
    msisdn: str,
    channel: Channel,
    at: pendulum.DateTime,
    code: str | None,
    pending_count: int,
    policy: Policy,
    informed: bool = True,
) -> ConfirmationCheck:
    """Is this a valid second confirmation of ``order`` (C1, C1a, C3, C13)?

    ``order`` must be awaiting confirmation; ``pending_count`` is how many orders of
    the same subscriber are awaiting confirmation (C3: more than one needs the code);
    ``informed`` says whether the order's confirmation request was handed to the
    gateway (C1a: a yes before that is not consent).
    """
    if channel is Channel.SP_API:
        return ConfirmationCheck(
            ReasonCode.SP_CONFIRMATION, "a confirmation came from the SP's platform"
        )
    if msisdn != order.msisdn:
        return ConfirmationCheck(
            ReasonCode.FOREIGN_NUMBER, f"from {msisdn}, order is {order.msisdn}"
        )
    if channel not in policy.operator_channels:
        return ConfirmationCheck(
            ReasonCode.NOT_OPERATOR_CHANNEL, f"{channel.value} is not operator-controlled"
        )
    if not informed:
        return ConfirmationCheck(
            ReasonCode.REQUEST_NOT_SENT, "the confirmation request has not gone out yet"
        )
    elapsed = dt.datetime.__sub__(at, order.requested_at)  # not pendulum's (slow) Interval
    if elapsed < policy.fastest_human_reply:
        seconds = elapsed.total_seconds()
        return ConfirmationCheck(ReasonCode.TOO_FAST, f"{seconds:.3f}s after the request")
    if order.confirm_by is None or at >= order.confirm_by:
        return ConfirmationCheck(ReasonCode.WINDOW_CLOSED, "the confirmation window has closed")
    if code is not None:
        if code != order.code:
            return ConfirmationCheck(ReasonCode.WRONG_CODE, "the code does not match the request")
    elif pending_count > 1:
        return ConfirmationCheck(
            ReasonCode.CODE_REQUIRED, f"{pending_count} orders are pending: quote the code"
        )
    return ConfirmationCheck(None)


def period_key(order: Order, period_start: dt.datetime | None, policy: Policy) -> str:
    """The billing period a charge is for, as a stable key (per order)."""
    if order.kind is OfferKind.ON_DEMAND or period_start is None:
        return "use"
    local = local_time(period_start, policy.timezone)
    if order.period is Period.MONTH:
        return f"{local.year:04d}-{local.month:02d}"
    if order.period is Period.WEEK:
        year, week, _ = local.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return local.date().isoformat()


def _period_bounds(order: Order, start: dt.datetime, policy: Policy) -> dt.datetime:
    """The start of the billing period that contains ``start``, in local time."""
    tz = zone(policy.timezone)
    day = local_time(start, policy.timezone).date()
    if order.period is Period.MONTH:
        day = day.replace(day=1)
    elif order.period is Period.WEEK:
        day = day - dt.timedelta(days=day.weekday())
    return dt.datetime(day.year, day.month, day.day, tzinfo=tz)


def expected_amount(order: Order, period_start: dt.datetime | None, policy: Policy) -> Decimal:
    """The amount a period of ``order`` may be charged: the frozen price, or C15's half."""
    if (
        order.kind is OfferKind.SUBSCRIPTION
        and order.period is Period.MONTH
        and policy.first_period is FirstPeriodRule.HALF_IF_LATE
        and order.activated_at is not None
        and period_start is not None
        and period_key(order, period_start, policy) == period_key(order, order.activated_at, policy)
    ):
        activated = local_time(order.activated_at, policy.timezone)
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
    first_period_start = _period_bounds(order, order.activated_at, policy)
    if start < first_period_start:
        return ChargeDecision(False, ReasonCode.PERIOD_BEFORE_ACTIVATION)
    key = period_key(order, start, policy)
    if any(c.period_key == key for c in charges):
        return ChargeDecision(False, ReasonCode.DUPLICATE_PERIOD)
    expected = expected_amount(order, start, policy)
    if amount != expected:
        return ChargeDecision(False, ReasonCode.AMOUNT_MISMATCH, expected)
    return ChargeDecision(True, ReasonCode.ALLOWED, expected)
