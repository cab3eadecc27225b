"""Pure decisions about a new order's fate (C5, C5a, C6, C13): refused over the SP's
daily limit or as a duplicate, or what its first step is (the confirmation request,
the trial, or the on-demand fee notice), and the code it is asked with (C3).

The handler reads what these functions need (the subscriber's live orders, the SP's
requests today, an earlier fee notice) and passes it in; nothing here touches a store.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence

import pendulum

from vas_lifecycle import timers
from vas_lifecycle.catalog import OfferKind, Service
from vas_lifecycle.clock import later
from vas_lifecycle.notices import NoticeKind
from vas_lifecycle.order import EventKind, Order, Step
from vas_lifecycle.policy import Policy
from vas_lifecycle.records import Channel, ReasonCode
from vas_lifecycle.states import OrderState

__all__ = [
    "Refusal",
    "counts_toward_limit",
    "draw_code",
    "first_step",
    "refusal",
    "reuses_fee_notice",
    "snapshot",
    "trial_start",
]

#: Why a request is refused, and the evidence when it is booked against the SP.
Refusal = tuple[ReasonCode, str]


def snapshot(
    service: Service, msisdn: str, language: str, converts_to: Service | None = None
) -> dict[str, str]:
    """What an order keeps of its service, frozen when it is requested (C12): a
    pack's validity and renewal too; and for a trial the subscriber agreed to convert
    (CT1), the subscription it becomes, whose price and period the order carries."""
    facts = {
        "msisdn": msisdn,
        "service_code": service.code,
        "sp_id": service.sp_id,
        "sp_name": service.sp_name,
        "service_name": service.name,
        "kind": service.kind.value,
        "price": service.price_text,
        "period": service.billing_period.value,
        "access_code": service.access_code,
        "language": language,
    }
    if service.validity_days is not None:
        facts["validity_days"] = str(service.validity_days)
        facts["auto_renew"] = "1" if service.auto_renew else "0"
    if converts_to is not None:
        facts["price"] = converts_to.price_text
        facts["period"] = converts_to.billing_period.value
        facts["converts_to"] = converts_to.code
        facts["convert_name"] = converts_to.name
        facts["conversion_consent"] = "1"
    return facts


def counts_toward_limit(channel: Channel) -> bool:
    """Requests from the SP's own platform count toward its daily limit (C13)."""
    return channel is Channel.SP_API


def reuses_fee_notice(service: Service, channel: Channel) -> bool:
    """By SMS, the day's first fee notice of an on-demand service covers later orders (C5)."""
    return service.kind is OfferKind.ON_DEMAND and channel is Channel.SMS


def refusal(
    service: Service,
    channel: Channel,
    *,
    live: Sequence[Order],
    sent_today: int,
    policy: Policy,
) -> Refusal | None:
    """Is the request refused: over the SP's daily limit for this subscriber (C13,
    booked against the SP), or a second live order of the same subscription or trial?"""
    if counts_toward_limit(channel) and sent_today >= policy.sp_daily_request_limit:
        return (
            ReasonCode.DAILY_LIMIT,
            f"request {sent_today + 1} of {service.code} today; "
            f"limit {policy.sp_daily_request_limit}",
        )
    if service.kind is not OfferKind.ON_DEMAND and any(
        o.service_code == service.code for o in live
    ):
        return (ReasonCode.DUPLICATE_ORDER, "")
    return None


def first_step(
    service: Service,
    channel: Channel,
    *,
    now: pendulum.DateTime,
    live: Sequence[Order],
    earlier_fee_notice: str | None,
    policy: Policy,
    rng: random.Random,
    new_id: Callable[[], str],
    converts: bool = False,
) -> Step:
    """The step an accepted request takes: ask for confirmation (a subscription, an
    SP's own on-demand order, or under CN25a a trial: C1, C5a), start the trial (C6; one that converts,
    CT1, is reminded at least the conversion lead before its end), or complete the
    on-demand order with its fee notice, or with the day's earlier one (C5)."""
    asks = service.kind is OfferKind.SUBSCRIPTION or (
        service.kind is OfferKind.ON_DEMAND and channel is Channel.SP_API
    )
    trial = service.kind is OfferKind.TRIAL
    if asks or (trial and policy.trials_need_confirmation):  # CN25a: a trial asks too
        taken = {o.code for o in live if o.state is OrderState.AWAITING_CONFIRMATION}
        facts = {
            "code": draw_code(rng, policy.code_digits, taken),
            "confirm_by": later(now, policy.window_for(channel)).isoformat(),
            "notice_id": new_id(),
        }
        if policy.confirmation_resend is not None:  # AU1: once more, if unanswered
            facts["remind_at"] = later(now, policy.confirmation_resend[0]).isoformat()
        if trial:
            assert service.trial_days is not None
            days = str(service.trial_days)
            facts["trial_days"] = days
            return Step(
                EventKind.CONFIRMATION_REQUESTED,
                facts,
                NoticeKind.TRIAL_REQUEST,
                {"trial_days": days},
            )
        return Step(
            EventKind.CONFIRMATION_REQUESTED,
            facts,
            NoticeKind.CONFIRMATION_REQUEST
            if service.kind is OfferKind.SUBSCRIPTION
            else NoticeKind.PURCHASE_REQUEST,
        )
    if trial:
        assert service.trial_days is not None
        return trial_start(service.trial_days, now, policy, converts=converts)
    if earlier_fee_notice is not None:
        return Step(
            EventKind.ORDER_COMPLETED,
            {"fee_notice_id": earlier_fee_notice, "fee_notice": "earlier today"},
        )
    notice_id = new_id()
    return Step(
        EventKind.ORDER_COMPLETED,
        {"fee_notice_id": notice_id, "notice_id": notice_id},
        NoticeKind.FEE_NOTICE,
    )


def trial_start(
    days: int, now: pendulum.DateTime, policy: Policy, *, converts: bool = False
) -> Step:
    """A trial of ``days`` days starting at ``now`` (C6): when it ends, and when it is
    reminded, kept out of the quiet hours (C16); a trial that converts (CT1) is
    reminded at least the conversion lead before its end."""
    length = dt.timedelta(days=days)
    ends = later(now, length)
    lead = policy.conversion_lead_for(length) if converts else policy.reminder_lead_for(length)
    remind = timers.before_quiet_hours(later(ends, -lead), policy, not_before=now)  # C16
    return Step(
        EventKind.TRIAL_STARTED,
        {"trial_ends_at": ends.isoformat(), "remind_at": remind.isoformat()},
        NoticeKind.CONVERTING_TRIAL_STARTED if converts else NoticeKind.TRIAL_STARTED,
    )


def draw_code(rng: random.Random, digits: int, taken: set[str | None]) -> str:
    """A confirmation code of ``digits`` digits that no pending order of the
    subscriber carries, never all zeros (C3)."""
    low, high = 10 ** (digits - 1), 10**digits - 1
    while True:
        code = str(rng.randint(low, high))
        if code not in taken and set(code) != {"0"}:
            return code
