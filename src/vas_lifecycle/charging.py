"""Pure charge decisions (C11, C12, C15): may this amount be charged on this order now?

Nothing here reads a clock or a store: the handler passes in the order and its
charges, so the rule is tested (and reused by the test kit) on plain values.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

import pendulum

from vas_lifecycle import timers
from vas_lifecycle.catalog import OfferKind, Period
from vas_lifecycle.clock import as_utc, local_time
from vas_lifecycle.order import Order, Pack
from vas_lifecycle.policy import FirstPeriodRule, Policy
from vas_lifecycle.records import Channel, Charge, ChargeDecision, ReasonCode
from vas_lifecycle.states import OrderState

__all__ = [
    "NOTICE_WINDOW",
    "BillingPeriod",
    "announce",
    "announced",
    "announcing",
    "billing_key",
    "billing_key_around",
    "billing_period",
    "consent_covers",
    "decide_charge",
    "decide_period",
    "expected_amount",
    "month_start",
    "notice_covers",
    "over_cap",
    "paying_on",
    "period_days",
    "period_key",
    "spend_day",
    "spend_days",
]


class BillingPeriod(NamedTuple):
    """One billing period of the subscriptions charged per ``period``: its key (as in
    :func:`period_key`) and its start as UTC."""

    period: Period
    key: str
    start: pendulum.DateTime


#: CN25b: how long before the lead the notices of a month may start going out (the
#: sweep sends them between ``lead + NOTICE_WINDOW`` and ``lead`` before the month)
NOTICE_WINDOW = dt.timedelta(days=2)


def month_start(key: str, policy: Policy) -> pendulum.DateTime:
    """The first instant (UTC) of the month ``YYYY-MM`` in the policy's time zone."""
    year, month = int(key[:4]), int(key[5:7])
    return pendulum.datetime(year, month, 1, tz=policy.timezone).in_timezone("UTC")


def _month_after(key: str) -> str:
    year, month = int(key[:4]), int(key[5:7])
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def notice_covers(order: Order) -> bool:
    """CN25b: is ``order`` a paid monthly subscription (包月), whose automatic charges
    are announced?"""
    return (
        order.kind is OfferKind.SUBSCRIPTION
        and order.pack is None
        and order.period is Period.MONTH
        and order.price > 0
    )


def announcing(now: dt.datetime, policy: Policy) -> tuple[str, pendulum.DateTime] | None:
    """CN25b: the month whose charge notices may go out at ``now`` (the next one,
    when ``now`` is at least the lead, and at most the lead and
    :data:`NOTICE_WINDOW`, before it begins) and its first instant; None otherwise."""
    lead = policy.charge_notice_lead
    if lead is None:
        return None
    key = _month_after(_key(Period.MONTH, local_time(now, policy.timezone)))
    start = month_start(key, policy)
    if start - lead - NOTICE_WINDOW <= now <= start - lead:
        return key, start
    return None


def consent_covers(now: dt.datetime, policy: Policy) -> str:
    """CN25b: the months a consent at ``now`` announces by itself: its own, and the
    next when the consent comes inside that month's notice window or later (the
    request named the monthly price, and the notices of that month may be over)."""
    key = _key(Period.MONTH, local_time(now, policy.timezone))
    after = _month_after(key)
    lead = policy.charge_notice_lead or dt.timedelta(0)
    if now >= month_start(after, policy) - lead - NOTICE_WINDOW:
        return f"{key}..{after}"
    return f"{key}..{key}"


def announce(notified: str | None, key: str) -> str:
    """CN25b: the run of announced months once ``key`` is announced: the run carried
    on when ``key`` follows it, else a new run from ``key`` (a month missed breaks it)."""
    if notified is not None:
        first, last = notified.split("..")
        if _month_after(last) == key or first <= key <= last:
            return f"{first}..{max(key, last)}"
    return f"{key}..{key}"


def announced(notified: str | None, key: str) -> bool:
    """CN25b: is the month ``key`` inside the run of announced months?"""
    if notified is None:
        return False
    first, last = notified.split("..")
    return first <= key <= last


def billing_period(period: Period, start: dt.datetime, policy: Policy) -> BillingPeriod | None:
    """The billing period of ``period`` that starts at ``start`` in the policy's time
    zone, or None when ``start`` is not the start of one (a month's first day at
    midnight, a Monday at midnight, a day's midnight)."""
    if period is Period.USE:
        return None
    local = local_time(start, policy.timezone)
    if _period_start(period, local) != local:
        return None
    return BillingPeriod(period, _key(period, local), as_utc(start))


def spend_day(at: dt.datetime, policy: Policy) -> str:
    """The spend ledger's day of a charge recorded ``at``: its local date in the
    policy's time zone, ``YYYY-MM-DD``."""
    return local_time(at, policy.timezone).date().isoformat()


def spend_days(period: Period, at: dt.datetime, policy: Policy) -> tuple[str, str, str]:
    """The calendar ``period`` (month, week or day) of the policy's time zone that
    contains ``at``: its key, its first day and the day after its last (the spend
    ledger's bounds)."""
    local = local_time(at, policy.timezone)
    first = _period_start(period, local).date()
    if period is Period.MONTH:
        end = _next_month(first)
    elif period is Period.WEEK:
        end = first + dt.timedelta(days=7)
    else:
        end = first + dt.timedelta(days=1)
    return _key(period, local), first.isoformat(), end.isoformat()


def billing_key(order_id: str, period_key: str) -> str:
    """The idempotency key of a billing pass's charge: one per order and period, so a
    rerun or a second worker finds the charge already there."""
    prefix, suffix = billing_key_around(period_key)
    return f"{prefix}{order_id}{suffix}"


def billing_key_around(period_key: str) -> tuple[str, str]:
    """What comes before and after the order id in :func:`billing_key` (for a store
    that makes the keys of a whole batch in one statement)."""
    return "bill:", f":{period_key}"


def period_key(order: Order, period_start: dt.datetime | None, policy: Policy) -> str:
    """The billing period a charge is for, as a stable key (per order)."""
    if order.kind is OfferKind.ON_DEMAND or period_start is None:
        return "use"
    if order.pack is not None:
        return _pack_key(order.pack, as_utc(period_start), policy)
    return _key(order.period, local_time(period_start, policy.timezone))


def period_days(key: str) -> tuple[dt.date, dt.date] | None:
    """The local days a charge's period key covers, as (first day, day after the
    last): a month (``2026-12``), an ISO week (``2026-W49``), a day, or a pack's
    validity (``2026-11-24+28d``); None for an on-demand charge (``use``)."""
    try:
        if "+" in key:  # a pack's validity: its first day and length
            first_text, days = key.split("+")
            first = dt.date.fromisoformat(first_text)
            return first, first + dt.timedelta(days=int(days.rstrip("d")))
        if "-W" in key:
            year, week = key.split("-W")
            first = dt.date.fromisocalendar(int(year), int(week), 1)
            return first, first + dt.timedelta(days=7)
        if len(key) == 7:
            first = dt.date.fromisoformat(key + "-01")
            return first, _next_month(first)
        first = dt.date.fromisoformat(key)
        return first, first + dt.timedelta(days=1)
    except ValueError:
        return None


def _next_month(day: dt.date) -> dt.date:
    """The first day of the month after ``day``'s."""
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _pack_key(pack: Pack, start: pendulum.DateTime, policy: Policy) -> str:
    """The key of a pack's validity period that contains ``start``: the local date it
    began and its length (``2026-11-24+28d``)."""
    begin = start
    if pack.valid_from is not None:
        periods = int((start - pack.valid_from).total_seconds() // pack.length.total_seconds())
        begin = pack.valid_from + pack.length * periods
    return f"{local_time(begin, policy.timezone).date().isoformat()}+{pack.validity_days}d"


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
    return _expected(order, period_start, order.activated_at, policy)


def _expected(
    order: Order, start: dt.datetime, activated_at: dt.datetime, policy: Policy
) -> Decimal:
    """C15: a monthly subscription activated with fewer than 15 days left in the month
    pays half for that first month (local time tells; read only when the rule can
    apply)."""
    if (
        order.kind is OfferKind.SUBSCRIPTION
        and order.period is Period.MONTH
        and policy.first_period is FirstPeriodRule.HALF_IF_LATE
    ):
        local_start = local_time(start, policy.timezone)
        activated = local_time(activated_at, policy.timezone)
        if _key(Period.MONTH, local_start) == _key(Period.MONTH, activated):
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
    spent: Decimal = Decimal(0),
) -> ChargeDecision:
    """May ``amount`` be charged on ``order`` for the period starting ``period_start`` (C11),
    and is it within the policy's caps (UK7, EU1): per charge, and with ``spent``
    (the subscriber's spend so far in the cap's period) per week or month?"""
    decision = _decide_charge(order, amount, period_start, now, charges, policy)
    if decision.allowed and over_cap(amount, spent, policy):
        return ChargeDecision(False, ReasonCode.SPEND_CAP)
    return decision


def _decide_charge(
    order: Order,
    amount: Decimal,
    period_start: dt.datetime | None,
    now: pendulum.DateTime,
    charges: Sequence[Charge],
    policy: Policy,
) -> ChargeDecision:
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
    decision = decide_period(
        order, period_start=period_start, now=now, charges=charges, policy=policy
    )
    if decision.allowed and amount != decision.expected_amount:
        return ChargeDecision(False, ReasonCode.AMOUNT_MISMATCH, decision.expected_amount)
    return decision


def _decide_pack(
    order: Order,
    pack: Pack,
    period_start: dt.datetime | None,
    now: pendulum.DateTime,
    charges: Sequence[Charge],
    policy: Policy,
) -> ChargeDecision:
    """A pack is charged once per validity period, only the current one (IN3, IN7):
    the next one only once it renewed, which needs the renewal notice in time."""
    state, start = order.state, as_utc(period_start) if period_start else now
    if state is OrderState.LAPSED and order.end_reason == "renewal_not_notified":
        return ChargeDecision(False, ReasonCode.RENEWAL_NOT_NOTIFIED)
    if state is OrderState.PAUSED:
        return ChargeDecision(False, ReasonCode.PAUSED)
    if state is OrderState.CANCELLED and order.ended_at is not None and start > order.ended_at:
        return ChargeDecision(False, ReasonCode.AFTER_CANCELLATION)
    if state is not OrderState.ACTIVE:
        return ChargeDecision(False, ReasonCode.NOT_ACTIVE)
    since, until = pack.valid_from, pack.valid_until
    if order.consent_channel is None or since is None or until is None:
        return ChargeDecision(False, ReasonCode.NO_CONSENT)
    if start >= until:  # the next period: only once the pack renewed
        if not timers.notified(order, policy):
            return ChargeDecision(False, ReasonCode.RENEWAL_NOT_NOTIFIED)
        return ChargeDecision(False, ReasonCode.PERIOD_NOT_STARTED)
    if start > now:
        return ChargeDecision(False, ReasonCode.PERIOD_NOT_STARTED)
    if start < since:
        return ChargeDecision(False, ReasonCode.PERIOD_BEFORE_ACTIVATION)
    key = _pack_key(pack, since, policy)
    if any(c.period_key == key for c in charges):
        return ChargeDecision(False, ReasonCode.DUPLICATE_PERIOD)
    if over_cap(order.price, Decimal(0), policy):
        return ChargeDecision(False, ReasonCode.SPEND_CAP)
    return ChargeDecision(True, ReasonCode.ALLOWED, order.price)


def paying_on(live: Sequence[Order], access_code: str) -> Order | None:
    """UK2, AU2: the latest paid subscription among ``live`` that is active on
    ``access_code`` (what an interval's spend reminder is about), or None."""
    paying = [
        o
        for o in live
        if o.access_code == access_code
        and o.kind is OfferKind.SUBSCRIPTION
        and o.state is OrderState.ACTIVE
    ]
    return paying[-1] if paying else None


def over_cap(amount: Decimal, spent: Decimal, policy: Policy) -> bool:
    """Would charging ``amount`` break one of the policy's caps (UK7, EU1), the
    subscriber having spent ``spent`` so far in the spend cap's period?"""
    one, total = policy.per_charge_cap, policy.spend_cap
    return (one is not None and amount > one) or (total is not None and spent + amount > total)


def decide_period(
    order: Order,
    *,
    period_start: dt.datetime | None,
    now: pendulum.DateTime,
    charges: Sequence[Charge],
    policy: Policy,
) -> ChargeDecision:
    """May the period starting ``period_start`` of a subscription ``order`` be charged
    (C11), and how much (C12's frozen price, or C15's first-period rule)? An allowed
    answer carries the amount; an on-demand order has no periods (``not_active``)."""
    state = order.state
    if order.kind is OfferKind.ON_DEMAND:
        return ChargeDecision(False, ReasonCode.NOT_ACTIVE)
    if state in (OrderState.TRIAL, OrderState.TRIAL_EXPIRING) or order.kind is OfferKind.TRIAL:
        return ChargeDecision(False, ReasonCode.IN_TRIAL)
    if state is OrderState.AWAITING_CONFIRMATION:
        return ChargeDecision(False, ReasonCode.AWAITING_CONFIRMATION)
    if order.pack is not None:
        return _decide_pack(order, order.pack, period_start, now, charges, policy)
    start = as_utc(period_start) if period_start else now
    if state is OrderState.CANCELLED and order.ended_at is not None and start > order.ended_at:
        return ChargeDecision(False, ReasonCode.AFTER_CANCELLATION)
    if state is OrderState.PAUSED:
        return ChargeDecision(False, ReasonCode.PAUSED)
    if state is not OrderState.ACTIVE:
        return ChargeDecision(False, ReasonCode.NOT_ACTIVE)
    if order.activated_at is None or order.consent_channel is None:
        return ChargeDecision(False, ReasonCode.NO_CONSENT)
    if start > now:
        return ChargeDecision(False, ReasonCode.PERIOD_NOT_STARTED)
    activated, zone = order.activated_at, policy.timezone
    if (  # CN25b: a month's automatic charge only once it was announced
        policy.charge_notice_lead is not None
        and notice_covers(order)
        and not announced(order.notified, _key(Period.MONTH, local_time(start, zone)))
    ):
        return ChargeDecision(False, ReasonCode.CHARGE_NOT_NOTIFIED)
    # a period starting after the activation starts after its period's start: local
    # time is read only for a period that starts before the activation
    if start < activated and local_time(start, zone) < _period_start(
        order.period, local_time(activated, zone)
    ):
        return ChargeDecision(False, ReasonCode.PERIOD_BEFORE_ACTIVATION)
    if charges:
        key = _key(order.period, local_time(start, zone))
        if any(c.period_key == key for c in charges):
            return ChargeDecision(False, ReasonCode.DUPLICATE_PERIOD)
    amount = _expected(order, start, activated, policy)
    if over_cap(amount, Decimal(0), policy):  # above a cap on its own
        return ChargeDecision(False, ReasonCode.SPEND_CAP)
    return ChargeDecision(True, ReasonCode.ALLOWED, amount)
