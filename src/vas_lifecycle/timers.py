"""Pure decisions about timers (C1, C6, C16): what an order that is due becomes, and
when the platform's own notices may go out.

An unanswered confirmation expires (silence is refusal, C1); a trial is reminded
before it ends and ends by itself (C6); a trial whose end has already passed ends
without a late reminder. The notices the platform sends on its own schedule keep out
of the policy's quiet hours (C16): a reminder is scheduled before them, never after,
so its lead still holds; a notice that reports what already happened at night (a
trial's end) is held until they end. The state change itself is never delayed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

import pendulum

from vas_lifecycle.catalog import OfferKind, Service
from vas_lifecycle.clock import as_utc, later, local_time, zone
from vas_lifecycle.notices import NoticeKind
from vas_lifecycle.order import Event, EventKind, Order, Pack, Step
from vas_lifecycle.policy import Policy
from vas_lifecycle.records import Channel
from vas_lifecycle.states import OrderState

__all__ = [
    "Idle",
    "before_quiet_hours",
    "conversion",
    "converting",
    "due_step",
    "held_until",
    "idle_step",
    "notified",
    "quiet_period",
    "reminder_period",
    "renewal_step",
    "resend_step",
    "tracks_use",
    "validity",
]

#: how far before the quiet hours a reminder that would fall in them is moved
_MARGIN = dt.timedelta(minutes=1)


def due_step(order: Order, now: pendulum.DateTime, policy: Policy) -> Step | None:
    """The step a due order takes at ``now``, or None when none of its timers is due.

    A reminder that fires late, inside the quiet hours, when they last beyond the
    trial's end, could only reach the subscriber after the trial ended: it is
    recorded as skipped, and the trial's end notice is the one that goes out (C16)."""
    due = order.due_at
    if due is None or due > now:
        return None
    if order.state is OrderState.AWAITING_CONFIRMATION:
        if order.remind_at is not None and order.confirm_by is not None and now < order.confirm_by:
            return resend_step(order, now, policy)
        if order.pack is not None and order.activated_at is not None:  # a renewal
            return Step(
                EventKind.ORDER_LAPSED, {"reason": "renewal_not_confirmed"}, NoticeKind.LAPSED
            )
        return Step(EventKind.CONFIRMATION_EXPIRED, {"reason": "no_reply"})
    if order.pack is not None:
        return renewal_step(order, now, policy)
    if order.trial_ends_at is not None and order.trial_ends_at <= now:
        if converting(order, policy):  # the handler reads the consent and the reminder
            return Step(EventKind.TRIAL_CONVERTED, notice=NoticeKind.ACTIVATED)
        return Step(EventKind.TRIAL_ENDED, {"reason": "trial_ended"}, NoticeKind.TRIAL_ENDED)
    if order.state is OrderState.TRIAL:
        kind = NoticeKind.CONVERSION_REMINDER if converting(order, policy) else None
        held = held_until(kind or NoticeKind.TRIAL_REMINDER, now, policy)
        if held is not None and order.trial_ends_at is not None and held >= order.trial_ends_at:
            return Step(EventKind.TRIAL_REMINDED, {"reminder": "skipped: quiet hours"})
        return Step(EventKind.TRIAL_REMINDED, notice=kind or NoticeKind.TRIAL_REMINDER)
    return None  # pragma: no cover - due_at only points at the timers above


#: the request each kind of order is asked with (what a resend sends again, AU1)
_REQUESTS = {
    OfferKind.SUBSCRIPTION: NoticeKind.CONFIRMATION_REQUEST,
    OfferKind.ON_DEMAND: NoticeKind.PURCHASE_REQUEST,
    OfferKind.TRIAL: NoticeKind.TRIAL_REQUEST,
}


def resend_step(order: Order, now: pendulum.DateTime, policy: Policy) -> Step:
    """AU1: an unanswered request sent once more, with its own code; recorded as
    skipped when the timer fires later than the policy's latest resend (it would no
    longer be the one resend "within the hour"). The handler adds a trial's length."""
    resend = policy.confirmation_resend
    if resend is None or order.remind_at is None or now - order.remind_at > resend[1] - resend[0]:
        return Step(EventKind.CONFIRMATION_RESENT, {"resend": "skipped: too late"})
    return Step(EventKind.CONFIRMATION_RESENT, notice=_REQUESTS[order.kind])


class Idle(NamedTuple):
    """What the inactivity sweep does with a tracked order (UK6): cancel it
    (``step``), look again as if it was last used at ``look_again``, or, with
    neither, stop tracking it."""

    step: Step | None = None
    look_again: pendulum.DateTime | None = None


def validity(
    pack: Pack, start: pendulum.DateTime, now: pendulum.DateTime, policy: Policy
) -> dict[str, str]:
    """A pack's validity period from ``start`` (its consent, or the end of the one
    before): when it ends, and, for one that renews by itself under a policy with a
    renewal notice lead (IN3, IN7) and no fresh confirmation, when the notice is due,
    kept out of the quiet hours (C16) and not before ``now``."""
    until = later(start, pack.length)
    facts = {"valid_until": until.isoformat()}
    lead = policy.renewal_lead_for(pack.validity_days)
    if pack.auto_renew and lead is not None and not policy.renewal_requires_consent:
        notice = before_quiet_hours(later(until, -lead), policy, not_before=now)
        facts["remind_at"] = notice.isoformat()
    return facts


def notified(order: Order, policy: Policy) -> bool:
    """IN3: was the renewal notice of the order's current validity period recorded
    at least the policy's lead before its end? Always, with no lead, or where each
    renewal asks a fresh confirmation (IN7: the request tells, and asks)."""
    pack, at = order.pack, order.reminded_at
    lead = None if pack is None else policy.renewal_lead_for(pack.validity_days)
    if lead is None or policy.renewal_requires_consent:
        return True
    if pack is None or pack.valid_until is None or pack.valid_from is None or at is None:
        return False
    return pack.valid_from <= at <= pack.valid_until - lead


def renewal_step(order: Order, now: pendulum.DateTime, policy: Policy) -> Step | None:
    """A pack at its renewal notice or at the end of its validity (IN3, IN7): the
    notice; or the renewal, when it renews by itself and the notice went out in time;
    or a fresh confirmation, when the policy asks for one (the handler draws its code);
    or else it lapses, never renewed silently. None: nothing is due."""
    pack = order.pack
    if pack is None or pack.valid_until is None:
        return None
    until = pack.valid_until
    if now < until:
        if order.state is OrderState.ACTIVE and order.remind_at is not None:
            return Step(EventKind.RENEWAL_NOTIFIED, notice=NoticeKind.RENEWAL_NOTICE)
        return None
    reason = None
    if order.state is OrderState.PAUSED:
        reason = "paused"
    elif not pack.auto_renew:
        reason = "validity_ended"
    elif not notified(order, policy):
        reason = "renewal_not_notified"
    if reason is not None:
        return Step(EventKind.ORDER_LAPSED, {"reason": reason}, NoticeKind.LAPSED)
    if policy.renewal_requires_consent:
        confirm_by = later(now, policy.window_for(order.request_channel)).isoformat()
        return Step(
            EventKind.CONFIRMATION_REQUESTED,
            {"confirm_by": confirm_by, "renewal": "1"},
            NoticeKind.CONFIRMATION_REQUEST,
        )
    return Step(EventKind.ORDER_RENEWED, validity(pack, until, now, policy))


def converting(order: Order, policy: Policy) -> bool:
    """CT1: is this a trial sold to convert (it carries its subscription's price,
    frozen when the subscriber consented), under a policy that lets trials convert?"""
    return order.kind is OfferKind.TRIAL and order.price > 0 and policy.trial_converts


def conversion(order: Order, events: Sequence[Event], policy: Policy) -> Step:
    """CT1, at a converting trial's end: it becomes its paid subscription only with the
    subscriber's consent recorded at its start (not from the SP's platform) and its
    conversion reminder sent at least the lead before its end (a trial not longer
    than the lead: at its midpoint, or none where the policy says so); else it ends
    like any trial (C6), never charged."""
    ends, consent = order.trial_ends_at, events[0].data if events else {}
    length = None if ends is None else ends - order.requested_at
    reminded = [
        e.at
        for e in events
        if e.kind is EventKind.TRIAL_REMINDED and "reminder" not in e.data  # sent
    ]
    lead = None if length is None else policy.conversion_lead_for(length)
    in_time = (
        ends is not None
        and lead is not None
        and (
            (bool(reminded) and reminded[0] <= ends - lead)
            or (
                not policy.short_conversions_need_reminder
                and lead < policy.conversion_reminder_lead
            )
        )
    )
    if (
        converting(order, policy)
        and consent.get("conversion_consent") == "1"
        and order.request_channel is not Channel.SP_API
        and in_time
    ):
        facts = {"service_code": consent["converts_to"], "service_name": consent["convert_name"]}
        return Step(EventKind.TRIAL_CONVERTED, facts, NoticeKind.ACTIVATED)
    reason = "trial_ended" if not converting(order, policy) else "not_converted"
    return Step(EventKind.TRIAL_ENDED, {"reason": reason}, NoticeKind.TRIAL_ENDED)


def tracks_use(service: Service, policy: Policy) -> bool:
    """UK6: are orders of ``service`` watched for lack of use (paid subscriptions the
    policy cancels when idle, unless the service is exempt)?"""
    return (
        policy.cancel_after_inactivity is not None
        and service.kind is OfferKind.SUBSCRIPTION
        and not service.inactivity_exempt
    )


def idle_step(
    order: Order, used_at: pendulum.DateTime, now: pendulum.DateTime, policy: Policy
) -> Idle:
    """UK6: an active subscription unused for longer than
    ``policy.cancel_after_inactivity``, counted from its last use or its activation,
    whichever is later, is cancelled with a notice. One not yet active, or paused, is looked at again later (a pause
    is not idleness: the clock starts again at ``now``); one no longer live (or a
    policy without the rule) is not tracked any more."""
    window = policy.cancel_after_inactivity
    if window is None or not order.is_live:
        return Idle()
    if order.state is not OrderState.ACTIVE or order.activated_at is None:
        return Idle(look_again=now)
    since = max(used_at, order.activated_at)
    if now - since <= window:  # the sweep hands out only what is past the window
        return Idle(look_again=since)
    days = str(window.days)
    facts = {"reason": "inactive", "from_state": order.state.value, "idle_days": days}
    step = Step(
        EventKind.ORDER_CANCELLED, facts, NoticeKind.INACTIVE_CANCELLED, {"idle_days": days}
    )
    return Idle(step)


def reminder_period(when: dt.datetime, policy: Policy) -> tuple[str, pendulum.DateTime]:
    """The reminder period (C17, UK4) of the policy's time zone that ``when`` falls in:
    ``policy.reminder_months`` calendar months counted from January, as its key
    (``2026-12`` for a month, ``2026-01/12`` for a year) and the instant it began, in UTC."""
    local = local_time(when, policy.timezone)
    months = policy.reminder_months
    first = (local.month - 1) // months * months + 1
    start = pendulum.datetime(local.year, first, 1, tz=policy.timezone)
    key = f"{local.year:04d}-{first:02d}" + ("" if months == 1 else f"/{months}")
    return key, start.in_timezone("UTC")


def quiet_period(
    when: pendulum.DateTime, policy: Policy
) -> tuple[pendulum.DateTime, pendulum.DateTime] | None:
    """The policy's quiet hours that ``when`` falls in, as UTC (start, end), or None.
    The quiet hours of the local day before and of the day itself are worked out with
    the standard library's zones (every scheduled notice asks)."""
    if policy.quiet_hours is None:
        return None
    begin, end = policy.quiet_hours
    zone_ = zone(policy.timezone)
    today = local_time(when, policy.timezone).date()
    for day in (today - _DAY, today):
        start = _instant(day, begin, zone_)
        stop = _instant(day + _DAY if end <= begin else day, end, zone_)
        if start <= when < stop:
            return as_utc(start), as_utc(stop)
    return None


_DAY = dt.timedelta(days=1)


def _instant(day: dt.date, time: dt.time, zone_: dt.tzinfo) -> dt.datetime:
    """The instant (UTC) of a local wall-clock time: the later one where the clock
    shows it twice (autumn), and where it never shows it (spring) the instant the
    time before the change would have been, as pendulum reads local times."""
    first = dt.datetime.combine(day, time, tzinfo=zone_)
    return max(first.astimezone(dt.UTC), first.replace(fold=1).astimezone(dt.UTC))


def before_quiet_hours(
    when: pendulum.DateTime, policy: Policy, *, not_before: pendulum.DateTime
) -> pendulum.DateTime:
    """A scheduled notice's time moved out of the quiet hours, earlier, never later
    (C16), and not before ``not_before`` (when it was scheduled)."""
    period = quiet_period(when, policy)
    if period is None:
        return when
    return max(later(period[0], -_MARGIN), not_before)


def held_until(
    kind: NoticeKind, now: pendulum.DateTime, policy: Policy
) -> pendulum.DateTime | None:
    """When a notice of ``kind`` about to go out at ``now`` may go (the end of the
    quiet hours), or None when it may go now (C16)."""
    if kind not in policy.quiet_kinds:
        return None
    period = quiet_period(now, policy)
    return None if period is None else period[1]
