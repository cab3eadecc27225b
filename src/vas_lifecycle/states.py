"""Order states, triggers and the one transition table, declared once as data.

The diagram in ``docs/lifecycle.md`` and the dispatch used by the facade are both
generated from :data:`TRANSITIONS`; nothing else lists the allowed moves.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = [
    "BILLABLE_STATES",
    "LIVE_STATES",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "OrderState",
    "Transition",
    "Trigger",
]


class OrderState(enum.StrEnum):
    """Where an order is in its life. States are adjectives."""

    REQUESTED = "requested"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    ACTIVE = "active"
    TRIAL = "trial"
    TRIAL_EXPIRING = "trial_expiring"
    PAUSED = "paused"  # a subscription the subscriber or the operator paused: not charged
    LAPSED = "lapsed"  # a pack that reached the end of its validity without a renewal
    CANCELLED = "cancelled"
    DECLINED = "declined"
    EXPIRED = "expired"
    REJECTED = "rejected"
    COMPLETED = "completed"


class Trigger(enum.StrEnum):
    """What moves an order. Triggers are verbs."""

    ASK_CONFIRMATION = "ask_confirmation"
    CONFIRM = "confirm"
    DECLINE = "decline"
    EXPIRE = "expire"
    START_TRIAL = "start_trial"
    REMIND = "remind"
    END_TRIAL = "end_trial"
    COMPLETE = "complete"
    REJECT = "reject"
    CANCEL = "cancel"
    PAUSE = "pause"
    RESUME = "resume"
    NOTIFY_RENEWAL = "notify_renewal"
    RENEW = "renew"
    LAPSE = "lapse"
    CONVERT = "convert"
    RESEND = "resend"


Transition = tuple[Trigger, tuple[OrderState, ...], OrderState]

S = OrderState
LIVE_STATES: Final = frozenset(
    {S.AWAITING_CONFIRMATION, S.ACTIVE, S.TRIAL, S.TRIAL_EXPIRING, S.PAUSED}
)
#: The live orders a billing pass looks at: charged when active, counted when in a
#: trial or paused.
BILLABLE_STATES: Final = frozenset({S.ACTIVE, S.TRIAL, S.TRIAL_EXPIRING, S.PAUSED})
TERMINAL_STATES: Final = frozenset(
    {S.CANCELLED, S.DECLINED, S.EXPIRED, S.REJECTED, S.COMPLETED, S.LAPSED}
)

#: (trigger, sources, destination): the whole lifecycle of docs/specification.md.
TRANSITIONS: Final[tuple[Transition, ...]] = (
    # a pack's renewal that needs a fresh confirmation asks again (IN7, policy)
    (Trigger.ASK_CONFIRMATION, (S.REQUESTED, S.ACTIVE), S.AWAITING_CONFIRMATION),
    (Trigger.CONFIRM, (S.AWAITING_CONFIRMATION,), S.ACTIVE),
    (Trigger.DECLINE, (S.AWAITING_CONFIRMATION,), S.DECLINED),
    # AU1: an unanswered request sent once more (the same code), where the policy says
    (Trigger.RESEND, (S.AWAITING_CONFIRMATION,), S.AWAITING_CONFIRMATION),
    (Trigger.EXPIRE, (S.AWAITING_CONFIRMATION,), S.EXPIRED),
    # a trial starts at its request, or (CN25a, policy) once the subscriber confirms it
    (Trigger.START_TRIAL, (S.REQUESTED, S.AWAITING_CONFIRMATION), S.TRIAL),
    (Trigger.REMIND, (S.TRIAL,), S.TRIAL_EXPIRING),
    (Trigger.END_TRIAL, (S.TRIAL, S.TRIAL_EXPIRING), S.CANCELLED),
    # an on-demand order completes at once, or (from the SP's platform, C5a) once the
    # subscriber confirmed the purchase
    (Trigger.COMPLETE, (S.REQUESTED, S.AWAITING_CONFIRMATION), S.COMPLETED),
    (Trigger.REJECT, (S.REQUESTED,), S.REJECTED),
    (
        Trigger.CANCEL,
        (S.AWAITING_CONFIRMATION, S.ACTIVE, S.TRIAL, S.TRIAL_EXPIRING, S.PAUSED),
        S.CANCELLED,
    ),
    # a paid subscription paused by the subscriber or the operator, never by an SP: no
    # charge until it is resumed (a trial is free and its clock never stops: not paused)
    (Trigger.PAUSE, (S.ACTIVE,), S.PAUSED),
    (Trigger.RESUME, (S.PAUSED,), S.ACTIVE),
    # packs (IN3, IN7): the notice before a renewal, the renewal, and the end of a
    # validity that is not renewed (no auto-renewal, no notice in time, paused, or a
    # renewal confirmation not given)
    (Trigger.NOTIFY_RENEWAL, (S.ACTIVE,), S.ACTIVE),
    (Trigger.RENEW, (S.ACTIVE,), S.ACTIVE),
    (Trigger.LAPSE, (S.ACTIVE, S.PAUSED, S.AWAITING_CONFIRMATION), S.LAPSED),
    # CT1: a trial whose subscriber consented to the conversion at its start, and was
    # reminded in time, becomes the paid subscription it was sold with (never in China)
    (Trigger.CONVERT, (S.TRIAL, S.TRIAL_EXPIRING), S.ACTIVE),
)
del S
