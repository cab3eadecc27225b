"""Pure refund decisions (IN5, CN25c): what is left to refund of each charge, whether
a refund may be recorded, whether an unsubscribe or a claim is inside the refund
window, what part of a period an unsubscribe leaves unused, and what the rules say
is still due.

Nothing here reads a clock or a store: the handler passes in the order, its charges
and its refunds, so each rule is tested on plain values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

import pendulum

from vas_lifecycle.catalog import OfferKind
from vas_lifecycle.charging import period_days
from vas_lifecycle.clock import local_time
from vas_lifecycle.order import Order
from vas_lifecycle.policy import Policy
from vas_lifecycle.records import Charge, ReasonCode, Refund, RefundClaim, RefundDue

__all__ = [
    "CN25C",
    "IN5",
    "claim_in_time",
    "claims_unused",
    "decide_refund",
    "due",
    "left_to_refund",
    "unused_part",
]

#: The rule a claim inside the refund window is made under.
IN5 = "IN5"
#: The rule an unsubscribe claims the unused part of the period under.
CN25C = "CN25c"


def left_to_refund(charges: Sequence[Charge], refunds: Sequence[Refund]) -> dict[str, Decimal]:
    """What is left to refund of each charge, by key, in the order of ``charges``:
    its amount less the refunds recorded against it (never below zero)."""
    given: dict[str, Decimal] = {}
    for refund in refunds:
        given[refund.charge_key] = given.get(refund.charge_key, Decimal(0)) + refund.amount
    return {c.key: max(c.amount - given.get(c.key, Decimal(0)), Decimal(0)) for c in charges}


def decide_refund(
    charges: Sequence[Charge],
    refunds: Sequence[Refund],
    charge_key: str | None,
    amount: Decimal | None,
) -> tuple[Charge, Decimal] | ReasonCode:
    """The charge and the amount a refund gives back, or why it cannot be recorded.

    ``charge_key`` None: the latest charge with something left to refund. ``amount``
    None: all that is left of it. A refund never takes a charge below zero
    (``more_than_charged``); an order with nothing left (or a key that is not one of
    its charges) has ``nothing_to_refund``.
    """
    left = left_to_refund(charges, refunds)
    if charge_key is None:
        open_ = [c for c in charges if left[c.key] > 0]
        if not open_:
            return ReasonCode.NOTHING_TO_REFUND
        charge = max(open_, key=lambda c: (c.at, c.key))
    else:
        found = [c for c in charges if c.key == charge_key]
        if not found or left[charge_key] <= 0:
            return ReasonCode.NOTHING_TO_REFUND
        charge = found[0]
    rest = left[charge.key]
    if amount is None:
        return charge, rest
    if amount > rest:
        return ReasonCode.MORE_THAN_CHARGED
    return charge, amount


def claim_in_time(order: Order, now: pendulum.DateTime, policy: Policy) -> bool:
    """IN5: is an unsubscribe or a claim at ``now`` inside the policy's refund window
    after the order's activation (a paid order the subscriber confirmed)?"""
    window = policy.refund_window
    return (
        window is not None
        and order.kind is not OfferKind.TRIAL
        and order.activated_at is not None
        and now - order.activated_at <= window
    )


def claims_unused(order: Order, policy: Policy) -> bool:
    """CN25c: does unsubscribing from ``order`` claim back the unused part of what it
    was charged (a paid subscription the subscriber confirmed, under a policy that
    refunds it)?"""
    return (
        policy.refund_unused
        and order.kind is OfferKind.SUBSCRIPTION
        and order.activated_at is not None
        and order.price > 0
    )


def unused_part(charge: Charge, claimed_at: pendulum.DateTime, policy: Policy) -> Decimal:
    """CN25c: what of ``charge`` an unsubscribe at ``claimed_at`` leaves unused: its
    amount times the share of its period's days after the day of the unsubscribe
    (that day is used) among the days the charge covered (from its period's first
    day, or from the day it was taken if later: a first month charged in part),
    rounded to the cent. A period that had not begun is unused in full; an
    on-demand charge is used."""
    bounds = period_days(charge.period_key)
    if bounds is None:
        return Decimal(0)
    first, end = bounds
    taken = local_time(charge.period_start or charge.at, policy.timezone).date()
    covered_from = max(first, min(taken, end))
    left_from = max(local_time(claimed_at, policy.timezone).date() + dt.timedelta(days=1), first)
    covered, unused = (end - covered_from).days, (end - max(left_from, covered_from)).days
    if covered <= 0 or unused <= 0:
        return Decimal(0)
    share = charge.amount * unused / covered
    return min(share.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), charge.amount)


def due(
    claim: RefundClaim,
    msisdn: str,
    charges: Sequence[Charge],
    refunds: Sequence[Refund],
    policy: Policy,
) -> list[RefundDue]:
    """What ``claim`` makes due on an order. IN5: what is left of each charge taken up
    to the claim (a charge taken after it is not the activation's). CN25c: the unused
    part of each charge taken up to the claim (:func:`unused_part`), less what was
    given back of it already."""
    left = left_to_refund(charges, refunds)
    found = []
    for c in charges:
        if c.at > claim.at or left[c.key] <= 0:
            continue
        amount = left[c.key]
        if claim.rule == CN25C:
            given = c.amount - left[c.key]
            amount = unused_part(c, claim.at, policy) - given
            if amount <= 0:
                continue
        found.append(RefundDue(claim.order_id, msisdn, c.key, amount, claim.rule, claim.at))
    return found
