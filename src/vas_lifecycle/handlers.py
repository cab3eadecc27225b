"""One short function per command: load, decide with the pure rules, record.

Each handler runs inside a :class:`~vas_lifecycle.unit_of_work.UnitOfWork` given to it
by the facade (or by the SMS channel, which calls these same handlers). The rules
themselves live in :mod:`~vas_lifecycle.consent`, :mod:`~vas_lifecycle.ordering`,
:mod:`~vas_lifecycle.charging` and :mod:`~vas_lifecycle.timers`; a handler only reads
what they need, passes it in and records what they decide.
"""

from __future__ import annotations

import random
from decimal import Decimal

import attrs
import pendulum

from vas_lifecycle import charging, consent, ordering, timers
from vas_lifecycle.catalog import OfferKind, Service
from vas_lifecycle.errors import (
    ChargeRefusedError,
    ConfirmationRefusedError,
    ForcedSubscriptionError,
    IdempotencyKeyError,
    InvalidStateError,
    RetentionError,
    UnknownNoticeError,
    UnknownOrderError,
    VasError,
)
from vas_lifecycle.notices import NoticeKind
from vas_lifecycle.notify import DeliveryRules
from vas_lifecycle.order import EventKind, Order, Step
from vas_lifecycle.policy import Policy
from vas_lifecycle.records import (
    FORCED,
    Channel,
    Charge,
    ChargeDecision,
    DeliveryReport,
    DeliveryStatus,
    ReasonCode,
    RequestKey,
    SpViolation,
)
from vas_lifecycle.states import OrderState
from vas_lifecycle.store.base import NoticeRecorder, OrderRecorder, Transaction
from vas_lifecycle.unit_of_work import SYSTEM, UnitOfWork

__all__ = [
    "KeyedRequest",
    "confirm",
    "decline",
    "fire_due",
    "load",
    "may_charge",
    "pending",
    "purge",
    "record_charge",
    "request",
    "unsubscribe",
]


def load(tx: OrderRecorder, order_id: str) -> Order:
    """The order with that id, or UnknownOrderError."""
    order = tx.get_order(order_id) if isinstance(order_id, str) else None
    if order is None:
        raise UnknownOrderError(str(order_id))
    return order


def informed(tx: NoticeRecorder, order: Order) -> bool:
    """Has the order's confirmation request been handed to the gateway (C1a)?"""
    return order.request_notice_id is not None and tx.delivered(order.request_notice_id)


def pending(uow: UnitOfWork, msisdn: str, live: list[Order] | None = None) -> list[Order]:
    """The orders the subscriber can answer now (awaiting confirmation, inside the
    window, asked), read while holding the subscriber (invariant 8)."""
    if live is None:
        uow.tx.lock_subscriber(msisdn)
        live = uow.tx.live_orders_of(msisdn)
    return [o for o in live if consent.answerable(o, uow.now, informed=informed(uow.tx, o))]


@attrs.frozen
class KeyedRequest:
    """A request made with a caller's idempotency key: the key, whose keys it is among
    (the asking SP, or ``""``), and a digest of the request's arguments."""

    scope: str
    key: str
    fingerprint: str


def _earlier(uow: UnitOfWork, keyed: KeyedRequest) -> RequestKey | None:
    """What an earlier request with the same key did, if there was one; the same key
    with other arguments is refused (IdempotencyKeyError)."""
    known = uow.tx.request_key(keyed.scope, keyed.key)
    if known is not None and known.fingerprint != keyed.fingerprint:
        raise IdempotencyKeyError(keyed.key, "request")
    return known


def _remember(
    uow: UnitOfWork, keyed: KeyedRequest, order: Order | None, refusal: ReasonCode | None = None
) -> None:
    """Store the key with what its request did, in the request's own unit of work."""
    made, version = (None, 0) if order is None else (order.id, order.version)
    uow.tx.add_request_key(
        RequestKey(keyed.scope, keyed.key, keyed.fingerprint, made, version, refusal, uow.now)
    )


def request(
    uow: UnitOfWork,
    *,
    policy: Policy,
    rng: random.Random,
    msisdn: str,
    service: Service,
    channel: Channel,
    actor: str,
    text: str | None,
    language: str,
    keyed: KeyedRequest | None = None,
) -> Order:
    """A new order: refused (C13 limit, duplicate), or its first step (C1, C5, C6). A
    retry under a caller's idempotency key answers the order as the first request
    left it, and does nothing again (nothing is counted toward the daily limit)."""
    tx, now = uow.tx, uow.now
    policy.check_service(service)
    # the live orders, never the whole history (invariant 9), read while holding the
    # subscriber so that concurrent requests decide one after the other (invariant 8)
    tx.lock_subscriber(msisdn)
    known = None if keyed is None else _earlier(uow, keyed)
    if known is not None:
        return _as_it_was(tx, known)
    live = tx.live_orders_of(msisdn)
    order_id = uow.new_id()
    requested = Step(EventKind.ORDER_REQUESTED, ordering.snapshot(service, msisdn, language))
    sent_today = 0
    if ordering.counts_toward_limit(channel):
        sent_today = tx.count_sp_requests(msisdn, service.sp_id, *policy.local_day(now))
    refused = ordering.refusal(service, channel, live=live, sent_today=sent_today, policy=policy)
    if refused is not None:
        second = Step(EventKind.ORDER_REJECTED, {"reason": refused[0].value})
    else:
        earlier = None
        if ordering.reuses_fee_notice(service, channel):
            earlier = tx.fee_notice_between(msisdn, service.code, *policy.local_day(now))
        second = ordering.first_step(
            service,
            channel,
            now=now,
            live=live,
            earlier_fee_notice=earlier,
            policy=policy,
            rng=rng,
            new_id=uow.new_id,
        )
    steps = [requested, second]
    order = uow.record(None, steps, channel=channel, actor=actor, text_in=text, order_id=order_id)
    if refused is not None and refused[0] in FORCED:
        uow.violation(order, refused[0], channel=channel, evidence=refused[1])
    if keyed is not None:
        _remember(uow, keyed, order)
    return order


def _as_it_was(tx: Transaction, known: RequestKey) -> Order:
    """The order an earlier request under the same key made, as that request left it."""
    if known.order_id is None:  # refused without an order, under another catalog
        raise IdempotencyKeyError(known.key, "request")
    return Order.from_events(tx.events(known.order_id)[: known.version])


def _awaiting(tx: OrderRecorder, order_id: str, trigger: str) -> Order:
    """The order, which must be awaiting confirmation for a yes or a no."""
    order = load(tx, order_id)
    if order.state is not OrderState.AWAITING_CONFIRMATION:
        raise InvalidStateError(order.id, order.state, trigger)
    return order


def confirm(
    uow: UnitOfWork,
    *,
    policy: Policy,
    order_id: str,
    msisdn: str,
    channel: Channel,
    code: str | None,
    text: str | None,
    answerable: list[Order] | None = None,
) -> Order:
    """The subscriber's second confirmation (C1, C1a, C3, C13, C5a). A refusal is
    raised after the commit; forced subscription is booked against the SP first.
    ``answerable`` are the subscriber's answerable orders when the caller has them."""
    order = _awaiting(uow.tx, order_id, "confirm")
    if answerable is None:
        answerable = pending(uow, order.msisdn)
    check = consent.check_confirmation(
        order,
        msisdn=msisdn,
        channel=channel,
        at=uow.now,
        code=code,
        pending_count=len(answerable),
        policy=policy,
        # an answerable order was found informed in this transaction: not asked again
        informed=order in answerable or informed(uow.tx, order),
    )
    if check.reason is not None:
        if check.forced:
            uow.violation(
                order, check.reason, channel=channel, evidence=f"{check.detail}; text: {text!r}"
            )
            uow.refuse(
                ForcedSubscriptionError(order.id, check.reason, check.detail, sp_id=order.sp_id)
            )
        else:
            uow.refuse(ConfirmationRefusedError(order.id, check.reason, check.detail))
        return order
    if order.kind is OfferKind.ON_DEMAND:  # C5a: the purchase, with its fee notice
        notice_id = uow.new_id()
        step = Step(
            EventKind.PURCHASE_CONFIRMED,
            {"code": code or "", "fee_notice_id": notice_id, "notice_id": notice_id},
            NoticeKind.FEE_NOTICE,
        )
    else:
        step = Step(EventKind.CONSENT_GRANTED, {"code": code or ""}, NoticeKind.ACTIVATED)
    # the actor is the same number (checked)
    return uow.record(order, [step], channel=channel, actor=order.msisdn, text_in=text)


def decline(
    uow: UnitOfWork,
    *,
    order_id: str,
    msisdn: str,
    channel: Channel,
    code: str | None,
    text: str | None,
    answerable: list[Order] | None = None,
) -> Order:
    """The subscriber says no: ``DECLINED``, never charged. A refusal (another number,
    a wrong or missing code) is raised after the commit."""
    order = _awaiting(uow.tx, order_id, "decline")
    count = 1
    if code is None and msisdn == order.msisdn:
        count = len(answerable if answerable is not None else pending(uow, order.msisdn))
    check = consent.check_decline(order, msisdn=msisdn, code=code, pending_count=count)
    if check.reason is not None:
        uow.refuse(ConfirmationRefusedError(order.id, check.reason))
        return order
    step = Step(EventKind.CONSENT_DECLINED, {"reason": "declined"}, NoticeKind.DECLINED)
    return uow.record(order, [step], channel=channel, actor=order.msisdn, text_in=text)


def unsubscribe(
    uow: UnitOfWork,
    *,
    order_id: str,
    channel: Channel,
    actor: str | None,
    text: str | None,
) -> Order:
    """Cancel now from any live state (C7); an order no longer live is left as it is."""
    order = load(uow.tx, order_id)
    if not order.is_live:
        return order
    step = Step(
        EventKind.ORDER_CANCELLED,
        {"reason": "unsubscribed", "from_state": order.state.value},
        NoticeKind.CANCELLED,
    )
    return uow.record(order, [step], channel=channel, actor=actor or order.msisdn, text_in=text)


def fire_due(uow: UnitOfWork, *, policy: Policy, batch: int) -> int:
    """Fire up to ``batch`` due timers (C1 expiry, C6 reminder and end); how many were due."""
    due = uow.tx.due_orders(uow.now, batch)
    for order in due:
        step = timers.due_step(order, uow.now, policy)
        if step is not None:
            uow.record(order, [step], channel=None, actor=SYSTEM)
    return len(due)


def may_charge(
    tx: Transaction,
    now: pendulum.DateTime,
    *,
    policy: Policy,
    order_id: str,
    amount: Decimal,
    period_start: pendulum.DateTime | None,
) -> ChargeDecision:
    """C11's answer for this charge, with its reason."""
    order = load(tx, order_id)
    return charging.decide_charge(
        order,
        amount,
        period_start=period_start,
        now=now,
        charges=tx.charges(order.id),
        policy=policy,
    )


def record_charge(
    uow: UnitOfWork,
    *,
    policy: Policy,
    order_id: str,
    amount: Decimal,
    key: str,
    period_start: pendulum.DateTime | None,
) -> Charge:
    """Record a charge C11 allows; the same ``key`` again returns the first charge."""
    tx, now = uow.tx, uow.now
    order = load(tx, order_id)
    period = charging.period_key(order, period_start or now, policy)
    existing = tx.charge(key)
    if existing is not None:
        if (existing.order_id, existing.amount, existing.period_key) != (order.id, amount, period):
            uow.refuse(IdempotencyKeyError(key))
        return existing
    decision = charging.decide_charge(
        order,
        amount,
        period_start=period_start,
        now=now,
        charges=tx.charges(order.id),
        policy=policy,
    )
    charge = Charge(key, order.id, amount, period, period_start, now, order.version)
    if not decision.allowed:
        uow.refuse(ChargeRefusedError(order.id, decision.reason))
        return charge
    uow.charged(order, charge)
    return charge


def purge(uow: UnitOfWork, *, policy: Policy, cutoff: pendulum.DateTime) -> int:
    """Delete the finished orders that ended before ``cutoff``; how many. Evidence is
    kept for the retention period (C14): a cutoff inside it is refused."""
    earliest = uow.now.subtract(months=policy.retention_months)
    if cutoff > earliest:
        raise RetentionError(
            f"evidence is kept {policy.retention_months} months: cannot purge "
            f"anything that ended after {earliest.isoformat()}"
        )
    uow.tx.forget_messages(cutoff)
    uow.tx.forget_request_keys(cutoff)
    return uow.tx.purge(uow.tx.finished_before(cutoff))


def delivery_report(
    uow: UnitOfWork,
    *,
    rules: DeliveryRules,
    notice_id: str,
    status: DeliveryStatus,
    detail: str,
) -> DeliveryReport:
    """Record what a gateway reports about a notice. A final failure means the notice
    did not arrive: the outbox sends it again under its retry rules (or parks it)."""
    delivery = uow.tx.delivery(notice_id)
    if delivery is None:
        raise UnknownNoticeError(notice_id)
    report = DeliveryReport(uow.new_id(), notice_id, status, uow.now, detail)
    uow.tx.add_delivery_report(report)
    if status.is_final_failure:
        retry_at = rules.retry_at(uow.now, delivery.attempts)
        uow.tx.reopen_notice(notice_id, f"delivery report: {status.value}", retry_at)
    return report


def refuse_sp(
    uow: UnitOfWork,
    *,
    sp_id: str,
    reason: ReasonCode,
    msisdn: str,
    order_id: str | None,
    evidence: str,
    error: VasError,
    keyed: KeyedRequest | None = None,
) -> None:
    """Book an SP's reach past its own services or orders against it, then refuse.
    A retry with the idempotency key of a request refused so is refused again and
    not booked twice."""
    if keyed is not None:
        if _earlier(uow, keyed) is not None:
            uow.refuse(error)
            return
        _remember(uow, keyed, None, reason)
    uow.tx.add_violation(
        SpViolation(
            uow.new_id(), sp_id, msisdn, order_id, reason, uow.now, Channel.SP_API, evidence
        )
    )
    uow.refuse(error)


def sp_order(uow: UnitOfWork, *, sp_id: str, order_id: str) -> Order:
    """An SP's own order; another SP's is answered as unknown (nothing of it shown)
    and the attempt is booked against the asking SP."""
    order = uow.tx.get_order(order_id)
    if order is None:
        raise UnknownOrderError(order_id)
    if order.sp_id != sp_id:
        refuse_sp(
            uow,
            sp_id=sp_id,
            reason=ReasonCode.NOT_YOUR_ORDER,
            msisdn=order.msisdn,
            order_id=order.id,
            evidence=f"read of an order of {order.sp_id}",
            error=UnknownOrderError(order_id),
        )
    return order
