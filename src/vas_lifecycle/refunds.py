"""Pure refund decisions (IN5): what is left to refund of each charge, whether a
refund may be recorded, whether an unsubscribe or a claim is inside the refund
window, and what the rules say is still due.

Nothing here reads a clock or a store: the handler passes in the order, its charges
and its refunds, so each rule is tested on plain values.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pendulum

from vas_lifecycle.catalog import OfferKind
from vas_lifecycle.order import Order
from vas_lifecycle.policy import Policy
from vas_lifecycle.records import Charge, ReasonCode, Refund, RefundClaim, RefundDue

__all__ = ["IN5", "claim_in_time", "decide_refund", "due", "left_to_refund"]

#: The rule a claim inside the refund window is made under.
IN5 = "IN5"


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


def due(
    claim: RefundClaim, msisdn: str, charges: Sequence[Charge], refunds: Sequence[Refund]
) -> list[RefundDue]:
    """What ``claim`` makes due on an order: what is left of each charge taken up to
    the claim (a charge taken after it is not the activation's)."""
    left = left_to_refund(charges, refunds)
    return [
        RefundDue(claim.order_id, msisdn, c.key, left[c.key], claim.rule, claim.at)
        for c in charges
        if c.at <= claim.at and left[c.key] > 0
    ]
