"""One short function per command: load, decide with the pure rules, record.

Each handler is ``handler(command, uow)``: a command record
(:mod:`vas_lifecycle.commands`) and the :class:`~vas_lifecycle.unit_of_work.UnitOfWork`
it runs in, which carries everything else (the transaction, the instant, the policy,
the renderer, ids and randomness). The facade builds the records, and so does the SMS
channel, which calls these same handlers. The rules
themselves live in :mod:`~vas_lifecycle.consent`, :mod:`~vas_lifecycle.ordering`,
:mod:`~vas_lifecycle.charging` and :mod:`~vas_lifecycle.timers`; a handler only reads
what they need, passes it in and records what they decide.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import attrs
import pendulum

from vas_lifecycle import charging, consent, ordering, refunds, timers
from vas_lifecycle.catalog import OfferKind, Period
from vas_lifecycle.commands import (
    ChargePeriod,
    ClaimRefund,
    Confirm,
    Decline,
    FireDue,
    KeyedRequest,
    Pause,
    Purge,
    ReadSpOrder,
    RecordCharge,
    RecordRefund,
    RecordUsage,
    RefuseSp,
    ReportDelivery,
    Request,
    Resume,
    Unsubscribe,
)
from vas_lifecycle.errors import (
    ChargeRefusedError,
    ConfirmationRefusedError,
    ForcedSubscriptionError,
    IdempotencyKeyError,
    InvalidStateError,
    RefundRefusedError,
    RetentionError,
    UnknownNoticeError,
    UnknownOrderError,
)
from vas_lifecycle.notices import NoticeKind
from vas_lifecycle.order import EventKind, Order, Step
from vas_lifecycle.policy import Policy
from vas_lifecycle.records import (
    FORCED,
    BillingSummary,
    Channel,
    Charge,
    ChargeDecision,
    DeliveryReport,
    ReasonCode,
    Refund,
    RefundClaim,
    RefundDue,
    RequestKey,
    SpViolation,
)
from vas_lifecycle.states import OrderState
from vas_lifecycle.store.base import NoticeRecorder, OrderRecorder, Transaction
from vas_lifecycle.unit_of_work import SYSTEM, Refused, UnitOfWork

__all__ = [
    "charge_period",
    "claim_refund",
    "confirm",
    "decline",
    "fire_due",
    "load",
    "may_charge",
    "pause",
    "pending",
    "purge",
    "record_charge",
    "record_refund",
    "record_usage",
    "refunds_due",
    "request",
    "resume",
    "unsubscribe",
]


def load(orders: OrderRecorder, order_id: str) -> Order:
    """The order with that id, or UnknownOrderError."""
    order = orders.get_order(order_id) if isinstance(order_id, str) else None
    if order is None:
        raise UnknownOrderError(str(order_id))
    return order


def informed(outbox: NoticeRecorder, order: Order) -> bool:
    """Has the order's confirmation request been handed to the gateway (C1a)?"""
    return order.request_notice_id is not None and outbox.delivered(order.request_notice_id)


def pending(uow: UnitOfWork, msisdn: str, live: list[Order] | None = None) -> list[Order]:
    """The orders the subscriber can answer now (awaiting confirmation, inside the
    window, asked), read while holding the subscriber (invariant 8)."""
    if live is None:
        uow.tx.orders.lock_subscriber(msisdn)
        live = uow.tx.orders.live_orders_of(msisdn)
    return [o for o in live if consent.answerable(o, uow.now, informed=informed(uow.tx.outbox, o))]


def _earlier(uow: UnitOfWork, keyed: KeyedRequest) -> RequestKey | None:
    """What an earlier request with the same key did, if there was one; the same key
    with other arguments is refused (IdempotencyKeyError)."""
    known = uow.tx.keys.request_key(keyed.scope, keyed.key)
    if known is not None and known.fingerprint != keyed.fingerprint:
        raise IdempotencyKeyError(keyed.key, "request")
    return known


def _remember(
    uow: UnitOfWork, keyed: KeyedRequest, order: Order | None, refusal: ReasonCode | None = None
) -> None:
    """Store the key with what its request did, in the request's own unit of work."""
    made, version = (None, 0) if order is None else (order.id, order.version)
    uow.tx.keys.add_request_key(
        RequestKey(keyed.scope, keyed.key, keyed.fingerprint, made, version, refusal, uow.now)
    )


def request(cmd: Request, uow: UnitOfWork) -> Order:
    """A new order: refused (C13 limit, duplicate), or its first step (C1, C5, C6). A
    retry under a caller's idempotency key answers the order as the first request
    left it, and does nothing again (nothing is counted toward the daily limit)."""
    tx, now, policy = uow.tx, uow.now, uow.policy
    msisdn, service, channel, keyed = cmd.msisdn, cmd.service, cmd.channel, cmd.keyed
    policy.check_service(service)
    # the live orders, never the whole history (invariant 9), read while holding the
    # subscriber so that concurrent requests decide one after the other (invariant 8)
    tx.orders.lock_subscriber(msisdn)
    known = None if keyed is None else _earlier(uow, keyed)
    if known is not None:
        uow.repeat = True
        return _as_it_was(tx, known)
    live = tx.orders.live_orders_of(msisdn)
    order_id = uow.new_id()
    facts = ordering.snapshot(service, msisdn, cmd.language, cmd.converts_to)
    requested = Step(EventKind.ORDER_REQUESTED, facts)
    sent_today = 0
    if ordering.counts_toward_limit(channel):
        sent_today = tx.orders.count_sp_requests(msisdn, service.sp_id, *policy.local_day(now))
    refused = ordering.refusal(service, channel, live=live, sent_today=sent_today, policy=policy)
    if refused is not None:
        second = Step(EventKind.ORDER_REJECTED, {"reason": refused[0].value})
    else:
        earlier = None
        if ordering.reuses_fee_notice(service, channel):
            earlier = tx.orders.fee_notice_between(msisdn, service.code, *policy.local_day(now))
        second = ordering.first_step(
            service,
            channel,
            now=now,
            live=live,
            earlier_fee_notice=earlier,
            policy=policy,
            rng=uow.rng,
            new_id=uow.new_id,
            converts=cmd.converts_to is not None,
        )
    steps = [requested, second]
    order = uow.record(
        None, steps, channel=channel, actor=cmd.actor, text_in=cmd.text, order_id=order_id
    )
    if refused is not None and refused[0] in FORCED:
        uow.violation(order, refused[0], channel=channel, evidence=refused[1])
    if refused is None and timers.tracks_use(service, policy):  # UK6
        tx.usage.track(order.id, now)
    if keyed is not None:
        _remember(uow, keyed, order)
    return order


def _as_it_was(tx: Transaction, known: RequestKey) -> Order:
    """The order an earlier request under the same key made, as that request left it."""
    if known.order_id is None:  # refused without an order, under another catalog
        raise IdempotencyKeyError(known.key, "request")
    return Order.from_events(tx.orders.events(known.order_id)[: known.version])


def _awaiting(orders: OrderRecorder, order_id: str, trigger: str) -> Order:
    """The order, which must be awaiting confirmation for a yes or a no."""
    order = load(orders, order_id)
    if order.state is not OrderState.AWAITING_CONFIRMATION:
        raise InvalidStateError(order.id, order.state, trigger)
    return order


def confirm(cmd: Confirm, uow: UnitOfWork) -> Order | Refused:
    """The subscriber's second confirmation (C1, C1a, C3, C13, C5a). A refusal is
    raised after the commit; forced subscription is booked against the SP first."""
    order = _awaiting(uow.tx.orders, cmd.order_id, "confirm")
    channel, code, text = cmd.channel, cmd.code, cmd.text
    answerable = cmd.answerable if cmd.answerable is not None else pending(uow, order.msisdn)
    check = consent.check_confirmation(
        order,
        msisdn=cmd.msisdn,
        channel=channel,
        at=uow.now,
        code=code,
        pending_count=len(answerable),
        policy=uow.policy,
        # an answerable order was found informed in this transaction: not asked again
        informed=order in answerable or informed(uow.tx.outbox, order),
        attestation=cmd.attestation,
    )
    if check.reason is not None:
        if check.forced:
            uow.violation(
                order, check.reason, channel=channel, evidence=f"{check.detail}; text: {text!r}"
            )
            return Refused(
                ForcedSubscriptionError(
                    order.id,
                    check.reason,
                    check.detail,
                    sp_id=order.sp_id,
                    rule=uow.policy.rule_for(check.reason),
                )
            )
        rule = uow.policy.rule_for(check.reason)
        return Refused(ConfirmationRefusedError(order.id, check.reason, check.detail, rule=rule))
    facts = {"code": code or ""}
    if cmd.attestation is not None:  # IN1: the consent gateway's id of this consent
        facts["attestation"] = cmd.attestation
    if order.kind is OfferKind.ON_DEMAND:  # C5a: the purchase, with its fee notice
        notice_id = uow.new_id()
        facts.update(fee_notice_id=notice_id, notice_id=notice_id)
        step = Step(EventKind.PURCHASE_CONFIRMED, facts, NoticeKind.FEE_NOTICE)
    elif order.kind is OfferKind.TRIAL:  # CN25a: the trial starts now, confirmed
        started = ordering.trial_start(_trial_days(uow, order), uow.now, uow.policy)
        step = Step(started.kind, {**facts, **started.data}, started.notice)
    else:
        if order.pack is not None:  # a pack's validity starts now (IN3, IN7)
            facts.update(timers.validity(order.pack, uow.now, uow.now, uow.policy))
        if uow.policy.charge_notice_lead is not None and charging.notice_covers(order):
            facts["notified"] = charging.consent_covers(uow.now, uow.policy)  # CN25b
        step = Step(EventKind.CONSENT_GRANTED, facts, NoticeKind.ACTIVATED)
        if uow.policy.spend_reminder_interval is not None:  # UK2, AU2: from now on
            uow.tx.spend.watch(order.msisdn, order.access_code, uow.now)
    # the actor is the same number (checked)
    return uow.record(order, [step], channel=channel, actor=order.msisdn, text_in=text)


def _trial_days(uow: UnitOfWork, order: Order) -> int:
    """How long a trial that awaited its confirmation (CN25a) lasts, as its request
    said."""
    asked = [
        e for e in uow.tx.orders.events(order.id) if e.kind is EventKind.CONFIRMATION_REQUESTED
    ]
    return int(asked[-1].data["trial_days"])


def decline(cmd: Decline, uow: UnitOfWork) -> Order | Refused:
    """The subscriber says no: ``DECLINED``, never charged. A refusal (another number,
    a wrong or missing code) is raised after the commit."""
    order = _awaiting(uow.tx.orders, cmd.order_id, "decline")
    answerable, count = cmd.answerable, 1
    if cmd.code is None and cmd.msisdn == order.msisdn:
        count = len(answerable if answerable is not None else pending(uow, order.msisdn))
    check = consent.check_decline(order, msisdn=cmd.msisdn, code=cmd.code, pending_count=count)
    if check.reason is not None:
        rule = uow.policy.rule_for(check.reason)
        return Refused(ConfirmationRefusedError(order.id, check.reason, rule=rule))
    step = Step(EventKind.CONSENT_DECLINED, {"reason": "declined"}, NoticeKind.DECLINED)
    return uow.record(order, [step], channel=cmd.channel, actor=order.msisdn, text_in=cmd.text)


def unsubscribe(cmd: Unsubscribe, uow: UnitOfWork, *, confirmed_by: str = "") -> Order:
    """Cancel now from any live state (C7); an order no longer live is left as it is.
    ``confirmed_by``: the id of the one text that confirms this and other cancellations
    together (US2), instead of a confirmation of its own."""
    order = load(uow.tx.orders, cmd.order_id)
    if not order.is_live:
        return order
    facts = {"reason": "unsubscribed", "from_state": order.state.value}
    rule = None
    if refunds.claim_in_time(order, uow.now, uow.policy):  # IN5: leaving counts as a claim
        rule = refunds.IN5
    elif refunds.claims_unused(order, uow.policy):  # CN25c: the rest of the period back
        rule = refunds.CN25C
    if rule is not None:
        facts["refund_claim"] = rule
        uow.tx.ledger.add_claim(RefundClaim(order.id, rule, uow.now))
    if confirmed_by:
        facts["confirmed_by"] = confirmed_by
    step = Step(EventKind.ORDER_CANCELLED, facts, None if confirmed_by else NoticeKind.CANCELLED)
    actor = cmd.actor or order.msisdn
    return uow.record(order, [step], channel=cmd.channel, actor=actor, text_in=cmd.text)


def pause(cmd: Pause, uow: UnitOfWork) -> Order:
    """Pause an active subscription (no charge while paused); a paused order is left
    as it is. Raises InvalidStateError from any other state (a trial is free and its
    clock never stops: it is not paused)."""
    return _hold(cmd, uow, OrderState.PAUSED, EventKind.ORDER_PAUSED, NoticeKind.PAUSED)


def resume(cmd: Resume, uow: UnitOfWork) -> Order:
    """Resume a paused subscription; an active one is left as it is. Idleness (UK6)
    counts again from the resume."""
    order = _hold(cmd, uow, OrderState.ACTIVE, EventKind.ORDER_RESUMED, NoticeKind.RESUMED)
    if uow.policy.cancel_after_inactivity is not None:
        uow.tx.usage.touch([order.id], uow.now)
    return order


def record_usage(cmd: RecordUsage, uow: UnitOfWork) -> Order:
    """A use of a live subscription (UK6): its idleness counts from ``cmd.at``."""
    order = load(uow.tx.orders, cmd.order_id)
    if order.is_live and uow.policy.cancel_after_inactivity is not None:
        uow.tx.usage.touch([order.id], min(cmd.at or uow.now, uow.now))
    return order


def _hold(
    cmd: Pause | Resume, uow: UnitOfWork, target: OrderState, kind: EventKind, notice: NoticeKind
) -> Order:
    order = load(uow.tx.orders, cmd.order_id)
    if order.state is target:
        return order
    step = Step(kind, {"from_state": order.state.value}, notice)
    actor = cmd.actor or order.msisdn
    return uow.record(order, [step], channel=cmd.channel, actor=actor, text_in=cmd.text)


def fire_due(cmd: FireDue, uow: UnitOfWork) -> int:
    """Fire up to ``batch`` due timers (C1 expiry, C6 reminder and end), then look at
    up to ``batch`` subscriptions idle for the policy's window (UK6); how many of
    either were due."""
    due = uow.tx.orders.due_orders(uow.now, cmd.batch)
    for order in due:
        step = timers.due_step(order, uow.now, uow.policy)
        if step is not None and step.kind is EventKind.CONFIRMATION_REQUESTED:
            step = _renewal_request(uow, order, step)
        elif step is not None and step.kind is EventKind.TRIAL_CONVERTED:  # CT1
            step = timers.conversion(order, uow.tx.orders.events(order.id), uow.policy)
        elif step is not None and step.notice is NoticeKind.TRIAL_REQUEST:  # AU1, CN25a
            step = attrs.evolve(step, fields={"trial_days": str(_trial_days(uow, order))})
        if step is not None:
            uow.record(order, [step], channel=None, actor=SYSTEM)
    batch = cmd.batch
    swept = _monthly(uow, batch) + _charge_notices(uow, batch)
    return len(due) + _idle(uow, batch) + _spend_reminders(uow, batch) + swept


#: the monthly reminder's sweep (C17), and the last key of a month swept to its end
MONTHLY_SWEEP, SWEPT = "monthly_reminder", "~"


def _monthly(uow: UnitOfWork, batch: int) -> int:
    """C17: the free monthly reminder to the next ``batch`` subscribers with active
    paid subscriptions activated before this calendar month began, once a month,
    never in the quiet hours (C16); how many subscribers it looked at."""
    policy, now = uow.policy, uow.now
    if not policy.monthly_reminder or timers.quiet_period(now, policy) is not None:
        return 0
    month, start = timers.reminder_period(now, policy)

    def remind(msisdn: str, orders: list[Order]) -> None:
        paid = [o for o in orders if o.price > 0]
        if paid:
            uow.monthly_reminder(msisdn, paid)

    return _sweep(uow.tx, MONTHLY_SWEEP, month, start, batch, remind)


#: the sweep of the notices before a month's automatic charges (CN25b)
CHARGE_NOTICE_SWEEP = "charge_notice"


def _charge_notices(uow: UnitOfWork, batch: int) -> int:
    """CN25b: the notice of next month's automatic charge to each paid monthly
    subscription of the next ``batch`` subscribers, inside the month's notice window
    (:func:`charging.announcing`), never in the quiet hours (C16); each is an event
    of its order that carries the months announced. How many subscribers it looked at."""
    policy, now = uow.policy, uow.now
    month = charging.announcing(now, policy)
    if month is None or timers.quiet_period(now, policy) is not None:
        return 0
    key = month[0]

    def notify(msisdn: str, orders: list[Order]) -> None:
        for order in orders:
            if charging.notice_covers(order) and not charging.announced(order.notified, key):
                facts = {"period": key, "notified": charging.announce(order.notified, key)}
                step = Step(EventKind.RENEWAL_NOTIFIED, facts, NoticeKind.RENEWAL_NOTICE)
                uow.record(order, [step], channel=None, actor=SYSTEM)

    return _sweep(uow.tx, CHARGE_NOTICE_SWEEP, key, now, batch, notify)


def _sweep(
    tx: Transaction,
    name: str,
    period: str,
    activated_before: pendulum.DateTime,
    batch: int,
    visit: Callable[[str, list[Order]], None],
) -> int:
    """One batch of the sweep ``name`` through the subscribers with active
    subscriptions activated before ``activated_before``, once per ``period``: each
    of the next ``batch`` subscribers is visited with those orders, and the sweep
    remembers where it stopped (two workers never take the same batch). How many
    subscribers it looked at."""
    swept, last = tx.orders.sweep(name) or ("", "")
    after = last if swept == period else ""
    if after == SWEPT:
        return 0
    by_number: dict[str, list[Order]] = {}
    for order in tx.orders.paying_subscribers(after, activated_before, batch):
        by_number.setdefault(order.msisdn, []).append(order)
    for msisdn, orders in by_number.items():
        visit(msisdn, orders)
    done = len(by_number) < batch
    tx.orders.put_sweep(name, period, SWEPT if done else max(by_number))
    return len(by_number)


def _spend_reminders(uow: UnitOfWork, batch: int) -> int:
    """UK2, AU2: a spend reminder to each subscriber not reminded about an access code
    for the policy's interval while a paid subscription of theirs is live on it; one
    with none live any more is not watched any longer."""
    interval, tx, now = uow.policy.spend_reminder_interval, uow.tx, uow.now
    if interval is None:
        return 0
    due = tx.spend.reminders_due(now - interval, batch)
    for msisdn, access_code, _last in due:
        paying = charging.paying_on(tx.orders.live_orders_of(msisdn), access_code)
        if paying is None:
            tx.spend.unwatch(msisdn, access_code)
            continue
        key, first, end = charging.spend_days(Period.MONTH, now, uow.policy)
        uow.spend_reminder(paying, tx.spend.spent(msisdn, first, end, access_code)[0], key)
    return len(due)


def _renewal_request(uow: UnitOfWork, order: Order, step: Step) -> Step:
    """A pack's renewal that needs a fresh confirmation (IN7): its request, with a
    code none of the subscriber's pending orders has (C3, invariant 8), drawn while
    holding the subscriber."""
    uow.tx.orders.lock_subscriber(order.msisdn)
    live = uow.tx.orders.live_orders_of(order.msisdn)
    taken = {o.code for o in live if o.state is OrderState.AWAITING_CONFIRMATION}
    code = ordering.draw_code(uow.rng, uow.policy.code_digits, taken)
    facts = {**step.data, "code": code, "notice_id": uow.new_id()}
    return Step(step.kind, facts, step.notice)


def _idle(uow: UnitOfWork, batch: int) -> int:
    """UK6: cancel the subscriptions unused for the policy's window, look again later
    at those tracked that are not (yet) idle, stop tracking those that ended."""
    window, tx, now = uow.policy.cancel_after_inactivity, uow.tx, uow.now
    if window is None:
        return 0
    idle = tx.usage.idle(now - window, batch)
    for order_id, used_at in idle:
        order = tx.orders.get_order(order_id)
        decided = (
            timers.Idle() if order is None else timers.idle_step(order, used_at, now, uow.policy)
        )
        if decided.look_again is not None:
            tx.usage.touch([order_id], decided.look_again)
            continue
        tx.usage.forget(order_id)
        if order is not None and decided.step is not None:
            uow.record(order, [decided.step], channel=None, actor=SYSTEM)
    return len(idle)


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
    order = load(tx.orders, order_id)
    decision = charging.decide_charge(
        order,
        amount,
        period_start=period_start,
        now=now,
        charges=tx.ledger.charges(order.id),
        policy=policy,
        spent=_spent(tx, order.msisdn, now, policy),
    )
    allowed, reason, expected = decision.allowed, decision.reason, decision.expected_amount
    return ChargeDecision(allowed, reason, expected, policy.rule_for(reason))


def _spent(tx: Transaction, msisdn: str, now: pendulum.DateTime, policy: Policy) -> Decimal:
    """The subscriber's spend so far in the spend cap's period (0 with no cap)."""
    if policy.spend_cap is None:
        return Decimal(0)
    _key, first, end = charging.spend_days(policy.spend_cap_period, now, policy)
    return tx.spend.spent(msisdn, first, end, None)[0]


def record_charge(cmd: RecordCharge, uow: UnitOfWork) -> Charge | Refused:
    """Record a charge C11 allows; the same ``key`` again returns the first charge."""
    tx, now, policy = uow.tx, uow.now, uow.policy
    amount, key, period_start = cmd.amount, cmd.key, cmd.period_start
    order = load(tx.orders, cmd.order_id)
    period = charging.period_key(order, period_start or now, policy)
    existing = tx.ledger.charge(key)
    if existing is not None:
        if (existing.order_id, existing.amount, existing.period_key) != (order.id, amount, period):
            return Refused(IdempotencyKeyError(key))
        uow.repeat = True
        return existing
    decision = charging.decide_charge(
        order,
        amount,
        period_start=period_start,
        now=now,
        charges=tx.ledger.charges(order.id),
        policy=policy,
        spent=_spent(tx, order.msisdn, now, policy),
    )
    if not decision.allowed:
        rule = policy.rule_for(decision.reason)
        return Refused(ChargeRefusedError(order.id, decision.reason, rule=rule))
    charge = Charge(key, order.id, amount, period, period_start, now, order.version)
    uow.charged(order, charge)
    return charge


def charge_period(cmd: ChargePeriod, uow: UnitOfWork) -> tuple[BillingSummary, str | None]:
    """One batch of a billing pass. The orders C11 plainly allows (active, confirmed,
    activated before the period: their frozen price, C12) are charged by the store in
    one set-based write; each other one is charged what :func:`charging.decide_period`
    allows, or counted under its reason. Keys: :func:`charging.billing_key`. Returns
    the batch's summary and the id to go on after (None: the pass is through).

    While the event feed has subscribers, or the policy sends receipts (UK3), every
    order takes the second way, so each charge is published, or receipted, with its
    order."""
    tx, policy, now, start = uow.tx, uow.policy, uow.now, cmd.start
    # a published charge, a receipt or a cap needs each order in hand
    plain = (
        start <= now
        and not policy.receipt_after_charge
        and policy.per_charge_cap is None
        and policy.spend_cap is None
        and policy.spend_reminder_every is None
        and policy.charge_notice_lead is None  # CN25b: each month's notice is read
        and not tx.feed.subscribers()
    )
    batch = tx.ledger.billable_orders(
        cmd.period, cmd.period_key, start if plain else None, cmd.after, cmd.limit
    )
    count, total = 0, Decimal(0)
    if batch.settled:
        around = charging.billing_key_around(cmd.period_key)
        count, total = tx.ledger.charge_settled(batch.settled, around, cmd.period_key, start, now)
        tx.spend.add_settled_spend(batch.settled, charging.spend_day(now, policy))
    charged: list[tuple[Order, Charge]] = []
    refused: dict[ReasonCode, int] = {}
    spent: dict[str, Decimal] = {}  # with a spend cap: each subscriber's, this batch's included
    for order in batch.others:
        # the store handed out no order already charged for the period
        decision = charging.decide_period(
            order, period_start=start, now=now, charges=(), policy=policy
        )
        amount = decision.expected_amount
        if decision.allowed and amount is not None and policy.spend_cap is not None:
            so_far = spent.get(order.msisdn)
            if so_far is None:
                so_far = _spent(tx, order.msisdn, now, policy)
            if charging.over_cap(amount, so_far, policy):
                decision = ChargeDecision(False, ReasonCode.SPEND_CAP)
            else:
                spent[order.msisdn] = so_far + amount
        if not decision.allowed or amount is None:
            refused[decision.reason] = refused.get(decision.reason, 0) + 1
            continue
        key = charging.billing_key(order.id, cmd.period_key)
        charged.append(
            (order, Charge(key, order.id, amount, cmd.period_key, start, now, order.version))
        )
        total += amount
    uow.charged_all(charged)
    summary = BillingSummary(cmd.period_key, count + len(charged), total, refused)
    return summary, batch.after


def record_refund(cmd: RecordRefund, uow: UnitOfWork) -> Refund | Refused:
    """Give back money against a recorded charge, never more than is left of it; the
    same ``key`` again returns the first refund."""
    tx = uow.tx
    order = load(tx.orders, cmd.order_id)
    known = tx.ledger.refund(cmd.key)
    if known is not None:
        same = (
            known.order_id == order.id
            and known.reason == cmd.reason
            and cmd.charge_key in (None, known.charge_key)
            and cmd.amount in (None, known.amount)
        )
        uow.repeat = same
        return known if same else Refused(IdempotencyKeyError(cmd.key, "refund"))
    decided = refunds.decide_refund(
        tx.ledger.charges(order.id), tx.ledger.refunds(order.id), cmd.charge_key, cmd.amount
    )
    if isinstance(decided, ReasonCode):
        return Refused(RefundRefusedError(order.id, decided, rule=uow.policy.rule_for(decided)))
    charge, amount = decided
    return uow.refunded(order, charge, amount, cmd)


def claim_refund(cmd: ClaimRefund, uow: UnitOfWork) -> Order:
    """The subscriber claims a wrongful activation (IN5): recorded as evidence, and
    inside the refund window it makes the order's charges so far due."""
    order = load(uow.tx.orders, cmd.order_id)
    in_time = refunds.claim_in_time(order, uow.now, uow.policy)
    step = Step(EventKind.REFUND_CLAIMED, {"rule": refunds.IN5 if in_time else ""})
    actor = cmd.actor or order.msisdn
    after = uow.record(order, [step], channel=cmd.channel, actor=actor, text_in=cmd.text)
    if in_time:
        uow.tx.ledger.add_claim(RefundClaim(order.id, refunds.IN5, uow.now))
    return after


def refunds_due(
    tx: Transaction, limit: int, policy_at: Callable[[pendulum.DateTime], Policy]
) -> list[RefundDue]:
    """Up to ``limit`` refunds the rules say are due and are not yet recorded, by
    order id (claims are few: each is read with its order's charges and refunds),
    each claim read under ``policy_at`` its time."""
    found: list[RefundDue] = []
    ledger, after = tx.ledger, None
    while len(found) < limit:
        claims = ledger.claims(after, limit)
        for claim in claims:
            order = tx.orders.get_order(claim.order_id)
            if order is not None:
                found += refunds.due(
                    claim,
                    order.msisdn,
                    ledger.charges(order.id),
                    ledger.refunds(order.id),
                    policy_at(claim.at),
                )
        if len(claims) < limit:
            break
        after = claims[-1].order_id
    return found[:limit]


def purge(cmd: Purge, uow: UnitOfWork) -> int:
    """Delete the finished orders that ended before ``cutoff``; how many. Evidence is
    kept for the retention period (C14): a cutoff inside it is refused."""
    policy, cutoff = uow.policy, cmd.cutoff
    earliest = uow.now.subtract(months=policy.retention_months)
    if cutoff > earliest:
        raise RetentionError(
            f"evidence is kept {policy.retention_months} months: cannot purge "
            f"anything that ended after {earliest.isoformat()}"
        )
    uow.tx.keys.forget_messages(cutoff)
    uow.tx.keys.forget_request_keys(cutoff)
    return uow.tx.orders.purge(uow.tx.orders.finished_before(cutoff))


def delivery_report(cmd: ReportDelivery, uow: UnitOfWork) -> DeliveryReport:
    """Record what a gateway reports about a notice. A final failure means the notice
    did not arrive: the outbox sends it again under its retry rules (or parks it)."""
    notice_id, status = cmd.notice_id, cmd.status
    delivery = uow.tx.outbox.delivery(notice_id)
    if delivery is None:
        raise UnknownNoticeError(notice_id)
    report = DeliveryReport(uow.new_id(), notice_id, status, uow.now, cmd.detail)
    uow.tx.evidence.add_delivery_report(report)
    if status.is_final_failure:
        retry_at = uow.delivery.retry_at(uow.now, delivery.attempts)
        uow.tx.outbox.reopen_notice(notice_id, f"delivery report: {status.value}", retry_at)
    return report


def refuse_sp(cmd: RefuseSp, uow: UnitOfWork) -> Refused:
    """Book an SP's reach past its own services or orders against it, then refuse.
    A retry with the idempotency key of a request refused so is refused again and
    not booked twice."""
    keyed = cmd.keyed
    if keyed is not None:
        if _earlier(uow, keyed) is not None:
            return Refused(cmd.error)
        _remember(uow, keyed, None, cmd.reason)
    uow.tx.evidence.add_violation(
        SpViolation(
            uow.new_id(),
            cmd.sp_id,
            cmd.msisdn,
            cmd.order_id,
            cmd.reason,
            uow.now,
            Channel.SP_API,
            cmd.evidence,
        )
    )
    return Refused(cmd.error)


def sp_order(cmd: ReadSpOrder, uow: UnitOfWork) -> Order | Refused:
    """An SP's own order; another SP's is answered as unknown (nothing of it shown)
    and the attempt is booked against the asking SP."""
    order = uow.tx.orders.get_order(cmd.order_id)
    if order is None:
        raise UnknownOrderError(cmd.order_id)
    if order.sp_id != cmd.sp_id:
        refusal = RefuseSp(
            cmd.sp_id,
            ReasonCode.NOT_YOUR_ORDER,
            order.msisdn,
            order.id,
            f"read of an order of {order.sp_id}",
            UnknownOrderError(cmd.order_id),
        )
        return refuse_sp(refusal, uow)
    return order
