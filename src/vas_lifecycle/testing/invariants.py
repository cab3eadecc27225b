"""An invariant checker that reads a store and reports every breach of RULES.md.

It needs nothing but the store's audit reads (orders, events, notices, charges), so
integrators can run it over their own store after their own test run, and the
simulation runs it over a whole month of history. It imports no test library.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Protocol

import attrs
import pendulum

from vas_lifecycle.catalog import OfferKind
from vas_lifecycle.consent import Charge, expected_amount
from vas_lifecycle.lifecycle import Lifecycle
from vas_lifecycle.notices import Notice, NoticeKind
from vas_lifecycle.order import Event, EventKind, Order, apply
from vas_lifecycle.policy import Channel, Policy
from vas_lifecycle.states import OrderState

__all__ = ["InvariantViolation", "check_invariants"]

#: Notices an order gets at most once (invariant 6). Replies to a subscriber's texts
#: are not among them: they repeat as often as the texts do.
ONE_SHOT = frozenset(
    {
        NoticeKind.CONFIRMATION_REQUEST,
        NoticeKind.ACTIVATED,
        NoticeKind.DECLINED,
        NoticeKind.FEE_NOTICE,
        NoticeKind.TRIAL_STARTED,
        NoticeKind.TRIAL_REMINDER,
        NoticeKind.TRIAL_ENDED,
        NoticeKind.CANCELLED,
    }
)


class _Report(Protocol):
    def __call__(self, invariant: str, order_id: str | None, message: str) -> None: ...


@attrs.frozen
class InvariantViolation:
    """One breach: which invariant (1–7 of RULES.md, or a rule id), where, and what."""

    invariant: str
    order_id: str | None
    message: str

    def __str__(self) -> str:
        where = f" order {self.order_id}" if self.order_id else ""
        return f"[{self.invariant}]{where}: {self.message}"


def _consent_problem(
    order: Order, event: Event, policy: Policy, delivered: Callable[[str], bool]
) -> str | None:
    """Why a CONSENT_GRANTED (or, for an SP's on-demand order, PURCHASE_CONFIRMED)
    event is not a valid second confirmation (None if valid)."""
    wanted = (
        OfferKind.SUBSCRIPTION if event.kind is EventKind.CONSENT_GRANTED else OfferKind.ON_DEMAND
    )
    if order.kind is not wanted:
        return f"a {order.kind.value} order was confirmed by {event.kind.value}"
    if order.request_notice_id is None or not delivered(order.request_notice_id):
        return "confirmed although the confirmation request never went out (C1a)"
    if event.actor != order.msisdn:
        return f"confirmed by {event.actor}, not by the subscriber {order.msisdn}"
    if event.channel is None or event.channel not in policy.operator_channels:
        return f"confirmed through {event.channel}, not an operator-controlled channel"
    if event.at - order.requested_at < policy.fastest_human_reply:
        return "confirmed faster than a human can answer"
    if order.confirm_by is None or event.at >= order.confirm_by:
        return "confirmed after the confirmation window"
    quoted = event.data.get("code") or None
    if quoted is not None and quoted != order.code:
        return "confirmed with a code that is not the request's"
    return None


def check_invariants(
    lifecycle: Lifecycle,
    *,
    settled: bool = False,
    delivered: Iterable[Notice] | None = None,
) -> list[InvariantViolation]:
    """Every violation of RULES.md's invariants found in ``lifecycle``'s store.

    Args:
        lifecycle: whose store, policy and clock to read.
        settled: the caller ran ``run_due()`` at the clock's current time, so no timer
            may be overdue (every trial past its end is cancelled, every unanswered
            request past its window expired).
        delivered: what the notifier delivered; when given, every recorded notice must
            be among them (at least once).

    Returns:
        The violations, empty when every invariant holds.
    """
    policy = lifecycle.policy
    now = pendulum.instance(lifecycle.clock.now()).in_timezone("UTC")
    problems: list[InvariantViolation] = []

    def report(invariant: str, order_id: str | None, message: str) -> None:
        problems.append(InvariantViolation(invariant, order_id, message))

    with lifecycle.store.transaction() as tx:
        orders = list(tx.all_orders())
        histories = {o.id: tx.events(o.id) for o in orders}
        notices = list(tx.all_notices())
        charges = list(tx.all_charges())
        # C1a: which confirmed orders' requests went out (asked only for those)
        delivered_ids = {
            o.request_notice_id
            for o in orders
            if o.request_notice_id is not None
            and o.activated_at is not None
            and tx.delivered(o.request_notice_id)
        }

    by_order: dict[str, list[Notice]] = {}
    for notice in notices:
        if notice.order_id is not None:
            by_order.setdefault(notice.order_id, []).append(notice)
    ids = Counter(n.id for n in notices)
    for nid, count in ids.items():
        if count > 1:
            report("6", None, f"notice {nid} is recorded {count} times")
    if delivered is not None:
        seen = {n.id for n in delivered}
        for notice in notices:
            if notice.id not in seen:
                report(
                    "6", notice.order_id, f"{notice.kind.value} notice {notice.id} never delivered"
                )

    known = {o.id: o for o in orders}
    for order in orders:
        events = histories[order.id]
        # 5: state is a function of the event history
        try:
            rebuilt = Order.from_events(events)
        except Exception as err:
            report("5", order.id, f"history cannot be replayed: {err}")
            continue
        if rebuilt != order:
            report("5", order.id, "rebuilding from events gives a different order")
        if [e.seq for e in events] != list(range(1, len(events) + 1)):
            report("14", order.id, "event sequence has gaps or repeats")
        # 7: time only moves forward
        for before, after in itertools.pairwise(events):
            if after.at < before.at:
                report(
                    "7", order.id, f"event {after.kind.value} is earlier than {before.kind.value}"
                )
        for event in events:
            if event.at > now:
                report("7", order.id, f"event {event.kind.value} is in the future")
        # 2: no ACTIVE without a valid confirmation
        replay: Order | None = None
        for event in events:
            prior = replay
            replay = apply(replay, event)
            if event.kind in (EventKind.CONSENT_GRANTED, EventKind.PURCHASE_CONFIRMED):
                assert prior is not None
                problem = _consent_problem(prior, event, policy, delivered_ids.__contains__)
                if problem:
                    report("2", order.id, problem)
        # 6: one-shot notices recorded once
        mine = by_order.get(order.id, [])
        kinds = Counter(n.kind for n in mine)
        for kind, count in kinds.items():
            if kind in ONE_SHOT and count > 1:
                report("6", order.id, f"{count} {kind.value} notices")
        sent_texts = {n.text for n in mine}
        for event in events:
            if event.text_out is not None and event.text_out not in sent_texts:
                report("14", order.id, f"{event.kind.value} names a text no notice carries")
        # 4: cancelled is final; a cancellation is confirmed once
        if order.state is OrderState.CANCELLED and events[-1].kind not in (
            EventKind.ORDER_CANCELLED,
            EventKind.TRIAL_ENDED,
        ):
            report("4", order.id, "cancelled by an event that does not cancel")
        cancels = sum(1 for e in events if e.kind is EventKind.ORDER_CANCELLED)
        if cancels > 1:
            report("4", order.id, f"cancelled {cancels} times")
        if cancels and kinds.get(NoticeKind.CANCELLED, 0) != 1:
            report("C7", order.id, "a cancellation was not confirmed exactly once")
        # 3: trials
        if order.kind is OfferKind.TRIAL:
            _check_trial(order, events, mine, report)
        # C1 silence is refusal, and settled timers
        if settled and order.due_at is not None and order.due_at <= now:
            report("C1/C6", order.id, f"{order.state.value} timer overdue since {order.due_at}")
        if order.state is OrderState.ACTIVE and kinds.get(NoticeKind.ACTIVATED, 0) != 1:
            report("C4", order.id, "active without exactly one activation notice")
        if (
            order.kind is OfferKind.SUBSCRIPTION
            and order.state is not OrderState.REJECTED
            and kinds.get(NoticeKind.CONFIRMATION_REQUEST, 0) != 1
        ):
            report("C1", order.id, "subscription without exactly one confirmation request")

    # 1: charges
    fee_notices = {n.id for n in notices if n.kind is NoticeKind.FEE_NOTICE}
    periods: Counter[tuple[str, str]] = Counter()
    keys: Counter[str] = Counter()
    for charge in charges:
        keys[charge.key] += 1
        periods[(charge.order_id, charge.period_key)] += 1
        if charge.order_id not in known:
            report("1", charge.order_id, f"charge {charge.key} on an unknown order")
            continue
        _check_charge(charge, histories[charge.order_id], fee_notices, policy, report)
    for key, count in keys.items():
        if count > 1:
            report("C11", None, f"charge key {key} recorded {count} times")
    for (order_id, period), count in periods.items():
        if count > 1:
            report("1", order_id, f"{count} charges for period {period}")
    return problems


def _check_trial(order: Order, events: list[Event], mine: list[Notice], report: _Report) -> None:
    starts = [n for n in mine if n.kind is NoticeKind.TRIAL_STARTED]
    started = [e for e in events if e.kind is EventKind.TRIAL_STARTED]
    if order.state is not OrderState.REJECTED:
        if len(starts) != 1 or len(started) != 1:
            report("3", order.id, f"{len(starts)} start notices for one trial")
        elif starts[0].at > started[0].at:
            report("3", order.id, "the start notice came after the trial started")
    reminders = [n for n in mine if n.kind is NoticeKind.TRIAL_REMINDER]
    if len(reminders) > 1:
        report("3", order.id, f"{len(reminders)} reminders for one trial")
    if order.trial_ends_at is not None:
        for reminder in reminders:
            if reminder.at >= order.trial_ends_at:
                report("3", order.id, "reminded after the trial ended")
    if any(e.kind is EventKind.CONSENT_GRANTED for e in events) or order.activated_at:
        report("3", order.id, "a trial became active")
    if order.state not in (
        OrderState.TRIAL,
        OrderState.TRIAL_EXPIRING,
        OrderState.CANCELLED,
        OrderState.REJECTED,
    ):
        report("3", order.id, f"a trial ended in {order.state.value}")


def _check_charge(
    charge: Charge,
    events: list[Event],
    fee_notices: set[str],
    policy: Policy,
    report: _Report,
) -> None:
    prefix = events[: charge.order_version]
    if len(prefix) != charge.order_version:
        report("1", charge.order_id, f"charge {charge.key} names a version the order never had")
        return
    then = Order.from_events(prefix)
    if then.kind is OfferKind.TRIAL:
        report("1", then.id, "a trial was charged")
        return
    if then.kind is OfferKind.ON_DEMAND:
        if then.state is not OrderState.COMPLETED:
            report("1", then.id, f"on-demand charged while {then.state.value}")
        if then.request_channel is Channel.SP_API and not any(
            e.kind is EventKind.PURCHASE_CONFIRMED for e in prefix
        ):
            report("C5a", then.id, "an SP's on-demand order charged without the subscriber's yes")
        if then.fee_notice_id is None or then.fee_notice_id not in fee_notices:
            report("C5", then.id, "on-demand charged without a fee notice")
        if charge.amount != then.price:
            report("C12", then.id, f"charged {charge.amount}, quoted {then.price}")
        return
    if then.state is not OrderState.ACTIVE:
        report("1", then.id, f"charged while {then.state.value}")
        return
    if not any(e.kind is EventKind.CONSENT_GRANTED for e in prefix):
        report("1", then.id, "charged without consent evidence")
    start = charge.period_start or charge.at
    if charge.amount != expected_amount(then, start, policy):
        report("C12", then.id, f"charged {charge.amount}, quoted {then.price}")
    if start > charge.at:
        report("1", then.id, "charged for a period that had not started")
