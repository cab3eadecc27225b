"""Pure decisions about timers (C1, C6): what an order that is due becomes.

An unanswered confirmation expires (silence is refusal, C1); a trial is reminded
before it ends and ends by itself (C6); a trial whose end has already passed ends
without a late reminder.
"""

from __future__ import annotations

import pendulum

from vas_lifecycle.notices import NoticeKind
from vas_lifecycle.order import EventKind, Order, Step
from vas_lifecycle.states import OrderState

__all__ = ["due_step"]


def due_step(order: Order, now: pendulum.DateTime) -> Step | None:
    """The step a due order takes at ``now``, or None when none of its timers is due."""
    due = order.due_at
    if due is None or due > now:
        return None
    if order.state is OrderState.AWAITING_CONFIRMATION:
        return Step(EventKind.CONFIRMATION_EXPIRED, {"reason": "no_reply"})
    if order.trial_ends_at is not None and order.trial_ends_at <= now:
        return Step(EventKind.TRIAL_ENDED, {"reason": "trial_ended"}, NoticeKind.TRIAL_ENDED)
    if order.state is OrderState.TRIAL:
        return Step(EventKind.TRIAL_REMINDED, notice=NoticeKind.TRIAL_REMINDER)
    return None  # pragma: no cover - due_at only points at the timers above
