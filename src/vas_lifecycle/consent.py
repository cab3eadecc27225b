"""Pure consent rules: is this a valid yes (C1, C1a, C3, C13) or a valid no?

Nothing here reads a clock, a store or a notifier: the handlers pass in what they
have loaded, so these rules are tested (and reused by the test kit) on plain values.
"""

from __future__ import annotations

import attrs
import pendulum

# the charge rules and the shared records used to live here: still importable from here
from vas_lifecycle.charging import decide_charge, expected_amount, period_key
from vas_lifecycle.clock import later
from vas_lifecycle.order import Order
from vas_lifecycle.policy import Policy
from vas_lifecycle.records import (
    FORCED,
    Channel,
    Charge,
    ChargeDecision,
    ReasonCode,
    SpViolation,
)
from vas_lifecycle.states import OrderState

__all__ = [
    "FORCED",
    "Charge",
    "ChargeDecision",
    "ConfirmationCheck",
    "ReasonCode",
    "SpViolation",
    "answerable",
    "check_confirmation",
    "check_decline",
    "decide_charge",
    "expected_amount",
    "period_key",
]


@attrs.frozen
class ConfirmationCheck:
    """Outcome of :func:`check_confirmation`: ``reason is None`` means valid."""

    reason: ReasonCode | None
    detail: str = ""

    @property
    def forced(self) -> bool:
        return self.reason in FORCED


VALID = ConfirmationCheck(None)


def answerable(order: Order, now: pendulum.DateTime, *, informed: bool) -> bool:
    """Can the subscriber answer this order now: awaiting confirmation, inside the
    window, and asked (``informed``: its request went out, C1a)?"""
    return (
        order.state is OrderState.AWAITING_CONFIRMATION
        and order.confirm_by is not None
        and now < order.confirm_by
        and informed
    )


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
    attestation: str | None = None,
) -> ConfirmationCheck:
    """Is this a valid second confirmation of ``order`` (C1, C1a, C3, C13, IN1)?

    ``order`` must be awaiting confirmation; ``pending_count`` is how many orders of
    the same subscriber are awaiting confirmation (C3: more than one needs the code);
    ``informed`` says whether the order's confirmation request was handed to the
    gateway (C1a: a yes before that is not consent); ``attestation`` is a consent
    gateway's id of the consent, which a confirmation through one must carry (IN1).
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
    if channel is Channel.CONSENT_GATEWAY and not attestation:
        return ConfirmationCheck(
            ReasonCode.NO_ATTESTATION, "the consent gateway gave no attestation id"
        )
    if not informed:
        return ConfirmationCheck(
            ReasonCode.REQUEST_NOT_SENT, "the confirmation request has not gone out yet"
        )
    if at < later(order.requested_at, policy.fastest_human_reply):
        seconds = (at - order.requested_at).total_seconds()
        return ConfirmationCheck(ReasonCode.TOO_FAST, f"{seconds:.3f}s after the request")
    if order.confirm_by is None or at >= order.confirm_by:
        return ConfirmationCheck(ReasonCode.WINDOW_CLOSED, "the confirmation window has closed")
    return _code_check(order, code, pending_count)


def check_decline(
    order: Order, *, msisdn: str, code: str | None, pending_count: int
) -> ConfirmationCheck:
    """Is this a valid no to ``order``? Only its own number; the right code when one
    is quoted, and a code when several orders are pending (C3). A no is never late:
    inside or outside the window it only ever makes the order cost nothing."""
    if msisdn != order.msisdn:
        return ConfirmationCheck(ReasonCode.FOREIGN_NUMBER)
    return _code_check(order, code, pending_count)


def _code_check(order: Order, code: str | None, pending_count: int) -> ConfirmationCheck:
    if code is not None:
        if code != order.code:
            return ConfirmationCheck(ReasonCode.WRONG_CODE, "the code does not match the request")
    elif pending_count > 1:
        return ConfirmationCheck(
            ReasonCode.CODE_REQUIRED, f"{pending_count} orders are pending: quote the code"
        )
    return VALID
