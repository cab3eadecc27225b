"""An invariant checker that reads a store and reports every breach of docs/specification.md.

It needs nothing but the store's audit reads (orders, events, notices, charges), so
integrators can run it over their own store after their own test run, and the
simulation runs it over a whole month of history. It reads the history a page of
orders at a time (each with its events, notices and charges), so its memory does not
grow with the number of orders. It imports no test library.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Protocol

import attrs
import pendulum

from vas_lifecycle.catalog import OfferKind
from vas_lifecycle.charging import (
    NOTICE_WINDOW,
    expected_amount,
    month_start,
    notice_covers,
    spend_days,
)
from vas_lifecycle.clock import as_utc, local_time
from vas_lifecycle.lifecycle import Lifecycle
from vas_lifecycle.notices import Notice, NoticeKind
from vas_lifecycle.order import FACTS, Event, EventKind, Order, apply
from vas_lifecycle.policy import Channel, Policy
from vas_lifecycle.privacy import mask_msisdn
from vas_lifecycle.records import Charge, Refund
from vas_lifecycle.regimes import Regime
from vas_lifecycle.states import OrderState
from vas_lifecycle.store.base import Transaction
from vas_lifecycle.timers import conversion, notified, quiet_period, reminder_period

__all__ = [
    "CHECKS",
    "History",
    "InvariantViolation",
    "check_invariants",
    "evidence_chains",
    "invariant_1_charges",
    "invariant_2_consent",
    "invariant_3_trials",
    "invariant_4_cancellation",
    "invariant_5_replay",
    "invariant_6_notices",
    "invariant_7_time",
    "read_histories",
    "read_history",
    "rule_c17_monthly_reminders",
    "rule_ct1_conversions",
    "rule_in3_renewals",
    "rule_in5_refunds",
    "rule_uk3_receipts",
    "rule_uk7_per_charge_cap",
    "rules_c1_c4_notices",
]

#: Notices an order gets at most once (invariant 6). Replies to a subscriber's texts
#: are not among them: they repeat as often as the texts do.
ONE_SHOT = frozenset(
    {
        NoticeKind.CONFIRMATION_REQUEST,
        NoticeKind.ACTIVATED,
        NoticeKind.DECLINED,
        NoticeKind.FEE_NOTICE,
        NoticeKind.TRIAL_REQUEST,
        NoticeKind.TRIAL_STARTED,
        NoticeKind.TRIAL_REMINDER,
        NoticeKind.TRIAL_ENDED,
        NoticeKind.CANCELLED,
        NoticeKind.INACTIVE_CANCELLED,
    }
)


class _Report(Protocol):
    def __call__(self, invariant: str, order_id: str | None, message: str) -> None: ...


@attrs.frozen
class InvariantViolation:
    """One breach: which invariant (1–7 of docs/specification.md, or a rule id), where, and what."""

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
    wanted = {
        EventKind.CONSENT_GRANTED: OfferKind.SUBSCRIPTION,
        EventKind.PURCHASE_CONFIRMED: OfferKind.ON_DEMAND,
        EventKind.TRIAL_STARTED: OfferKind.TRIAL,  # CN25a: a trial that awaited its yes
    }[event.kind]
    if order.kind is not wanted:
        return f"a {order.kind.value} order was confirmed by {event.kind.value}"
    if order.request_notice_id is None or not delivered(order.request_notice_id):
        return "confirmed although the confirmation request never went out (C1a)"
    if event.actor != order.msisdn:
        return f"confirmed by {event.actor}, not by the subscriber {order.msisdn}"
    if event.channel is None or event.channel not in policy.operator_channels:
        return f"confirmed through {event.channel}, not an operator-controlled channel"
    if event.channel is Channel.CONSENT_GATEWAY and not event.data.get("attestation"):
        return "confirmed through the consent gateway without its attestation (IN1)"
    if event.at - order.requested_at < policy.fastest_human_reply:
        return "confirmed faster than a human can answer"
    if order.confirm_by is None or event.at >= order.confirm_by:
        return "confirmed after the confirmation window"
    quoted = event.data.get("code") or None
    if quoted is not None and quoted != order.code:
        return "confirmed with a code that is not the request's"
    return None


@attrs.frozen
class History:
    """Everything the checks read about some orders (a page of the store, or all of
    it), taken from the store in one transaction: the orders with their events,
    their notices and their charges."""

    regime: Regime
    now: pendulum.DateTime
    settled: bool
    orders: list[Order]
    events: dict[str, list[Event]]
    notices: list[Notice]
    charges: list[Charge]
    refunds: list[Refund]
    #: confirmed orders' confirmation requests that went out (C1a)
    requests_out: frozenset[str]
    #: what the notifier delivered, when the caller said
    handed_over: frozenset[str] | None
    #: notices withdrawn before they went out (overtaken by newer news of their order)
    withdrawn: frozenset[str]
    #: the fee notices (C5) that the on-demand orders charged here name, where stored
    fee_notices: frozenset[str]

    #: notices by order, and the orders whose history replays (the others are
    #: invariant 5's finding and are left out of the other checks)
    by_order: dict[str, list[Notice]]
    replayable: list[Order]

    def notices_of(self, order_id: str) -> list[Notice]:
        return self.by_order.get(order_id, [])

    def policy_at(self, when: dt.datetime) -> Policy:
        """The regime's policy in force at ``when`` (its first before it begins:
        what happened then is checked by the first rules the regime has)."""
        return self.regime.policy_at(when, or_first=True)


Check = Callable[[History], Iterable[InvariantViolation]]


def _v(invariant: str, order_id: str | None, message: str) -> InvariantViolation:
    return InvariantViolation(invariant, order_id, message)


def invariant_1_charges(h: History) -> Iterable[InvariantViolation]:
    """No charge without C11's conditions; one charge per period and per key."""
    known = {o.id for o in h.orders}
    fee_notices = set(h.fee_notices)
    periods = Counter((c.order_id, c.period_key) for c in h.charges)
    keys = Counter(c.key for c in h.charges)
    problems: list[InvariantViolation] = []
    for charge in h.charges:
        if charge.order_id not in known:
            problems.append(_v("1", charge.order_id, f"charge {charge.key} on an unknown order"))
            continue
        _check_charge(
            charge,
            h.events[charge.order_id],
            fee_notices,
            h.policy_at(charge.at),
            _collect(problems),
        )
    problems += [
        _v("C11", None, f"charge key {k} recorded {n} times") for k, n in keys.items() if n > 1
    ]
    problems += [
        _v("1", oid, f"{n} charges for period {period}")
        for (oid, period), n in periods.items()
        if n > 1
    ]
    return problems


def invariant_2_consent(h: History) -> Iterable[InvariantViolation]:
    """No order reaches ``active`` (or an SP's on-demand order ``completed``, or under
    CN25a a trial ``trial``) without a valid confirmation (C1, C1a, C3, C13)."""
    for order in h.replayable:
        replay: Order | None = None
        for event in h.events[order.id]:
            prior, replay = replay, apply(replay, event)
            if event.kind is EventKind.TRIAL_STARTED and prior is not None:
                if prior.state is OrderState.REQUESTED:
                    if h.policy_at(event.at).trials_need_confirmation:
                        yield _v("CN25a", order.id, "a trial started without a confirmation")
                    continue
            elif event.kind not in (EventKind.CONSENT_GRANTED, EventKind.PURCHASE_CONFIRMED):
                continue
            assert prior is not None
            problem = _consent_problem(
                prior, event, h.policy_at(event.at), h.requests_out.__contains__
            )
            if problem:
                yield _v("2", order.id, problem)


def invariant_3_trials(h: History) -> Iterable[InvariantViolation]:
    """One start notice, at most one reminder, ends cancelled, never active (C6)."""
    problems: list[InvariantViolation] = []
    for order in h.replayable:
        if order.kind is OfferKind.TRIAL:
            _check_trial(order, h.events[order.id], h.notices_of(order.id), _collect(problems))
    return problems


def invariant_4_cancellation(h: History) -> Iterable[InvariantViolation]:
    """Cancelled is final and happens once, and is confirmed exactly once (C7)."""
    for order in h.replayable:
        events = h.events[order.id]
        moves = [e for e in events if e.kind not in FACTS]  # a refund after it moves nothing
        if order.state is OrderState.CANCELLED and moves[-1].kind not in (
            EventKind.ORDER_CANCELLED,
            EventKind.TRIAL_ENDED,
        ):
            yield _v("4", order.id, "cancelled by an event that does not cancel")
        cancels = sum(1 for e in events if e.kind is EventKind.ORDER_CANCELLED)
        if cancels > 1:
            yield _v("4", order.id, f"cancelled {cancels} times")
        notices = Counter(n.kind for n in h.notices_of(order.id))
        said = notices[NoticeKind.CANCELLED] + notices[NoticeKind.INACTIVE_CANCELLED]  # UK6
        together = {
            e.data.get("confirmed_by", "") for e in events if e.kind is EventKind.ORDER_CANCELLED
        } - {""}
        if together:  # US2: one text confirmed this and the others the same text ended
            kinds = {n.kind for n in h.notices if n.id in together}
            if said or kinds - {NoticeKind.OPTED_OUT}:
                yield _v("C7", order.id, "a cancellation confirmed together and alone")
        elif cancels and said != 1:
            yield _v("C7", order.id, "a cancellation was not confirmed exactly once")


def invariant_5_replay(h: History) -> Iterable[InvariantViolation]:
    """The order is a function of its events, numbered without gaps (C14)."""
    for order in h.orders:
        events = h.events[order.id]
        try:
            rebuilt = Order.from_events(events)
        except Exception as err:
            yield _v("5", order.id, f"history cannot be replayed: {err}")
            continue
        if rebuilt != order:
            yield _v("5", order.id, "rebuilding from events gives a different order")
        if [e.seq for e in events] != list(range(1, len(events) + 1)):
            yield _v("14", order.id, "event sequence has gaps or repeats")


def invariant_6_notices(h: History) -> Iterable[InvariantViolation]:
    """Each notice recorded once (one-shot kinds once per order), delivered at least
    once when the caller says what was delivered, and every sent text on record."""
    for nid, count in Counter(n.id for n in h.notices).items():
        if count > 1:
            yield _v("6", None, f"notice {nid} is recorded {count} times")
    if h.handed_over is not None:
        for notice in h.notices:
            if notice.id not in h.handed_over and notice.id not in h.withdrawn:
                yield _v(
                    "6", notice.order_id, f"{notice.kind.value} notice {notice.id} never delivered"
                )
    for order in h.replayable:
        mine = h.notices_of(order.id)
        for kind, count in Counter(n.kind for n in mine).items():
            if kind in ONE_SHOT and count > _once(h, order, kind):
                yield _v("6", order.id, f"{count} {kind.value} notices")
        texts = {n.text for n in mine}
        for event in h.events[order.id]:
            if event.text_out is not None and event.text_out not in texts:
                yield _v("14", order.id, f"{event.kind.value} names a text no notice carries")


def invariant_7_time(h: History) -> Iterable[InvariantViolation]:
    """Events in time order, none in the future."""
    for order in h.replayable:
        events = h.events[order.id]
        for before, after in itertools.pairwise(events):
            if after.at < before.at:
                yield _v(
                    "7", order.id, f"event {after.kind.value} is earlier than {before.kind.value}"
                )
        for event in events:
            if event.at > h.now:
                yield _v("7", order.id, f"event {event.kind.value} is in the future")


def rules_c1_c4_notices(h: History) -> Iterable[InvariantViolation]:
    """One confirmation request per subscription (C1), one activation notice per active
    order (C4), and with ``settled`` no overdue timer (silence is refusal, trials end)."""
    for order in h.replayable:
        notices = Counter(n.kind for n in h.notices_of(order.id))
        if h.settled and order.due_at is not None and order.due_at <= h.now:
            yield _v("C1/C6", order.id, f"{order.state.value} timer overdue since {order.due_at}")
        activated = _once(h, order, NoticeKind.ACTIVATED)
        if order.state is OrderState.ACTIVE and notices[NoticeKind.ACTIVATED] != activated:
            yield _v("C4", order.id, "active without exactly one activation notice")
        if (
            order.kind is OfferKind.SUBSCRIPTION
            and order.state is not OrderState.REJECTED
            and notices[NoticeKind.CONFIRMATION_REQUEST]
            != _once(h, order, NoticeKind.CONFIRMATION_REQUEST)
        ):
            yield _v("C1", order.id, "subscription without exactly one confirmation request")


#: The one-shot notices a pack sends once per validity period, and the event that
#: sends each (a renewal that needs a fresh confirmation asks, and activates, again).
_PER_PERIOD = {
    NoticeKind.CONFIRMATION_REQUEST: EventKind.CONFIRMATION_REQUESTED,
    NoticeKind.ACTIVATED: EventKind.CONSENT_GRANTED,
}


def _once(h: History, order: Order, kind: NoticeKind) -> int:
    """How many notices of a one-shot ``kind`` the order may have: one, or, for a
    pack, one per event that sends it; a request resent (AU1) once more."""
    sender = _PER_PERIOD.get(kind)
    events = h.events[order.id]
    if kind is NoticeKind.CONFIRMATION_REQUEST and any(
        e.kind is EventKind.TRIAL_CONVERTED for e in events
    ):
        return 0  # CT1: consented at the trial's start, never asked
    resent = 0
    if kind in _RESENT:
        resent = sum(
            1 for e in events if e.kind is EventKind.CONFIRMATION_RESENT and "resend" not in e.data
        )
    if order.pack is None or sender is None:
        return 1 + resent
    return max(1, sum(1 for e in events if e.kind is sender)) + resent


#: the requests a resend sends again (AU1)
_RESENT = frozenset(
    {NoticeKind.CONFIRMATION_REQUEST, NoticeKind.PURCHASE_REQUEST, NoticeKind.TRIAL_REQUEST}
)


def rule_au1_resends(h: History) -> Iterable[InvariantViolation]:
    """An unanswered request is sent again at most once per request, only under a
    policy that resends, and no later than its latest resend after the request (AU1)."""
    for order in h.replayable:
        asked: Event | None = None
        count = 0
        for event in h.events[order.id]:
            if event.kind is EventKind.CONFIRMATION_REQUESTED:
                asked, count = event, 0
            if event.kind is not EventKind.CONFIRMATION_RESENT or "resend" in event.data:
                continue
            count += 1
            resend = h.policy_at(event.at).confirmation_resend
            if asked is None or resend is None or count > 1:
                yield _v("AU1", order.id, "a request sent again more than once, or unasked")
            elif event.at - asked.at > resend[1]:
                yield _v("AU1", order.id, "a request sent again later than the policy allows")


def rule_uk3_receipts(h: History) -> Iterable[InvariantViolation]:
    """Where the policy sends receipts, one receipt per recorded charge of an order
    (UK3); where it does not, none."""
    charges = Counter(c.order_id for c in h.charges)
    wanted = Counter(c.order_id for c in h.charges if h.policy_at(c.at).receipt_after_charge)
    for order in h.orders:
        receipts = sum(1 for n in h.notices_of(order.id) if n.kind is NoticeKind.RECEIPT)
        expected = wanted[order.id]
        if receipts != expected:
            yield _v("UK3", order.id, f"{receipts} receipt(s) for {charges[order.id]} charge(s)")


def rule_uk7_per_charge_cap(h: History) -> Iterable[InvariantViolation]:
    """No charge above the policy's per-charge cap (UK7, EU1), and no subscriber
    charged past the spend cap in a calendar week or month of the policy's time zone,
    refunds taken off (read a page of orders at a time, a subscriber's charges on
    another page are not added in: a page can only under-count)."""
    for charge in h.charges:
        cap = h.policy_at(charge.at).per_charge_cap
        if cap is not None and charge.amount > cap:
            yield _v("UK7", charge.order_id, f"charge {charge.amount} above the cap {cap}")
    owner = {o.id: o.msisdn for o in h.orders}
    charged_at = {c.key: c.at for c in h.charges}
    spent: dict[tuple[str, str], Decimal] = {}
    caps: dict[tuple[str, str], Decimal] = {}
    moves = [(c.order_id, c.at, c.amount) for c in h.charges]
    moves += [(r.order_id, charged_at.get(r.charge_key, r.at), -r.amount) for r in h.refunds]
    for order_id, at, amount in moves:
        policy = h.policy_at(at)
        if policy.spend_cap is None:
            continue
        key = (owner[order_id], spend_days(policy.spend_cap_period, at, policy)[0])
        spent[key] = spent.get(key, Decimal(0)) + amount
        caps[key] = policy.spend_cap
    for (msisdn, period), amount in sorted(spent.items()):
        if amount > caps[msisdn, period]:
            yield _v("UK7", None, f"{mask_msisdn(msisdn)} charged {amount} in {period}")


def rule_in5_refunds(h: History) -> Iterable[InvariantViolation]:
    """Refunds never exceed what was charged: each names a charge of its order, the
    refunds of a charge add up to no more than it, and each has its order's
    ``refund_recorded`` event at its version, with its amount (IN5)."""
    charges = {c.key: c for c in h.charges}
    given: dict[str, Decimal] = {}
    for refund in h.refunds:
        charge = charges.get(refund.charge_key)
        if charge is None or charge.order_id != refund.order_id:
            yield _v("IN5", refund.order_id, f"refund {refund.key} names no charge of its order")
            continue
        given[charge.key] = given.get(charge.key, Decimal(0)) + refund.amount
        events = h.events.get(refund.order_id, [])
        at = events[refund.order_version - 1] if len(events) >= refund.order_version > 0 else None
        if (
            at is None
            or at.kind is not EventKind.REFUND_RECORDED
            or at.data.get("key") != refund.key
            or Decimal(at.data.get("amount", "0")) != refund.amount
        ):
            yield _v("IN5", refund.order_id, f"refund {refund.key} has no evidence event")
    for key, amount in given.items():
        if amount > charges[key].amount:
            order_id = charges[key].order_id
            yield _v("IN5", order_id, f"charge {key} refunded {amount} of {charges[key].amount}")


def rule_in3_renewals(h: History) -> Iterable[InvariantViolation]:
    """A pack renews only at the end of its validity, with its renewal notice
    recorded at least the policy's lead before it (IN3, IN7), or a fresh confirmation
    where the policy asks for one; it is charged only for its current validity
    period; and it never renews when the policy wants a confirmation."""
    for order in h.replayable:
        if order.pack is None:
            continue
        replay: Order | None = None
        for event in h.events[order.id]:
            prior, replay = replay, apply(replay, event)
            if event.kind is not EventKind.ORDER_RENEWED or prior is None:
                continue
            until = prior.pack.valid_until if prior.pack is not None else None
            if until is None or event.at < until:
                yield _v("IN3", order.id, "a pack renewed before the end of its validity")
            elif not notified(prior, h.policy_at(event.at)):
                yield _v("IN3", order.id, "a pack renewed without its renewal notice in time")
            elif h.policy_at(event.at).renewal_requires_consent:
                yield _v("IN7", order.id, "a pack renewed without a fresh confirmation")


def rule_cn25b_charge_notices(h: History) -> Iterable[InvariantViolation]:
    """Under a policy with a charge notice lead, a paid monthly subscription is
    charged for a month only if that month's notice went out at least the lead
    before it began, or the consent came in that month or inside its notice window
    (CN25b). Read from the events alone."""
    orders = {o.id: o for o in h.replayable}
    for charge in h.charges:
        policy, order = h.policy_at(charge.at), orders.get(charge.order_id)
        lead = policy.charge_notice_lead
        if lead is None or order is None or not notice_covers(order):
            continue
        key = local_time(charge.period_start or charge.at, policy.timezone).strftime("%Y-%m")
        begins = month_start(key, policy)
        prefix = h.events[order.id][: charge.order_version]
        told = any(
            (
                e.kind is EventKind.RENEWAL_NOTIFIED
                and e.data.get("period") == key
                and e.at <= begins - lead
            )
            or (
                e.kind is EventKind.CONSENT_GRANTED
                and (
                    local_time(e.at, policy.timezone).strftime("%Y-%m") == key
                    or begins - lead - NOTICE_WINDOW <= e.at < begins
                )
            )
            for e in prefix
        )
        if not told:
            yield _v("CN25b", order.id, f"month {key} charged without its notice in time")


def rule_cn25c_unused_refunds(h: History) -> Iterable[InvariantViolation]:
    """Under a policy that refunds the unused period, every unsubscribe of a paid
    subscription the subscriber confirmed claims it (CN25c)."""
    for order in h.replayable:
        for event in h.events[order.id]:
            if (
                event.kind is not EventKind.ORDER_CANCELLED
                or event.data.get("reason") != "unsubscribed"
            ):
                continue
            if (
                h.policy_at(event.at).refund_unused
                and order.kind is OfferKind.SUBSCRIPTION
                and order.activated_at is not None
                and order.price > 0
                and not event.data.get("refund_claim")
            ):
                yield _v("CN25c", order.id, "an unsubscribe did not claim the unused period")


def rule_ct1_conversions(h: History) -> Iterable[InvariantViolation]:
    """A trial converts to a paid subscription only under a policy that lets it, with
    the subscriber's consent recorded at its start (not from the SP's platform) and
    its conversion reminder sent at least the lead before its end (CT1; invariant 3's
    exception)."""
    for order in h.replayable:
        events = h.events[order.id]
        for n, event in enumerate(events):
            if event.kind is not EventKind.TRIAL_CONVERTED:
                continue
            prior = Order.from_events(events[:n])
            if (
                conversion(prior, events[:n], h.policy_at(event.at)).kind
                is not EventKind.TRIAL_CONVERTED
            ):
                yield _v("CT1", order.id, "a trial converted without the consent and reminder")


#: Every check, one per invariant or rule group, in the order they are reported.
CHECKS: tuple[Check, ...] = (
    invariant_6_notices,
    invariant_5_replay,
    invariant_7_time,
    invariant_2_consent,
    invariant_4_cancellation,
    invariant_3_trials,
    rules_c1_c4_notices,
    invariant_1_charges,
    rule_uk3_receipts,
    rule_uk7_per_charge_cap,
    rule_in5_refunds,
    rule_in3_renewals,
    rule_ct1_conversions,
    rule_cn25b_charge_notices,
    rule_au1_resends,
    rule_cn25c_unused_refunds,
)


def read_history(
    lifecycle: Lifecycle, *, settled: bool = False, delivered: Iterable[Notice] | None = None
) -> History:
    """The whole history of ``lifecycle``'s store as one :class:`History` (for small
    stores; :func:`read_histories` reads it a page at a time)."""
    pages = list(read_histories(lifecycle, settled=settled, delivered=delivered, page=None))
    return pages[0]


def read_histories(
    lifecycle: Lifecycle,
    *,
    settled: bool = False,
    delivered: Iterable[Notice] | None = None,
    page: int | None = 1000,
) -> Iterator[History]:
    """The history of ``lifecycle``'s store a ``page`` of orders at a time (None: all
    at once), read in one transaction. Notices that belong to no order (replies to
    texts) are only read when ``delivered`` is given, with the last page."""
    handed_over = frozenset(n.id for n in delivered) if delivered is not None else None
    now = pendulum.instance(lifecycle.clock.now()).in_timezone("UTC")
    with lifecycle.store.transaction(readonly=True) as tx:
        withdrawn = (
            frozenset(tx.outbox.withdrawn_notices()) if handed_over is not None else frozenset()
        )
        orders = tx.orders.all_orders()
        while True:
            chunk = list(itertools.islice(orders, page))
            last = page is None or len(chunk) < page
            loose: list[Notice] = []
            if last and handed_over is not None:
                loose = [n for n in tx.outbox.all_notices() if n.order_id is None]
            if chunk or loose or page is None:  # the whole history is one, even empty
                yield _history(
                    tx, chunk, loose, lifecycle.regime, now, settled, handed_over, withdrawn
                )
            if last:
                return


def _history(
    tx: Transaction,
    orders: list[Order],
    loose: list[Notice],
    regime: Regime,
    now: pendulum.DateTime,
    settled: bool,
    handed_over: frozenset[str] | None,
    withdrawn: frozenset[str],
) -> History:
    """The :class:`History` of ``orders`` (and of the order-less notices ``loose``)."""
    events = {o.id: tx.orders.events(o.id) for o in orders}
    by_order = {o.id: tx.outbox.notices(o.id) for o in orders}
    charges = [c for o in orders for c in tx.ledger.charges(o.id)]
    refunds = [r for o in orders for r in tx.ledger.refunds(o.id)]
    notices = [n for mine in by_order.values() for n in mine] + loose
    named = {o.fee_notice_id for o in orders if o.fee_notice_id is not None}
    fee_notices = frozenset(
        nid
        for nid in named
        if (d := tx.outbox.delivery(nid)) and d.notice.kind is NoticeKind.FEE_NOTICE
    )
    # a pack that renewed with a fresh confirmation was asked more than once (IN7)
    asked = [
        e.data.get("notice_id")
        for o in orders
        if o.activated_at is not None
        for e in (events[o.id] if o.pack is not None else ())
        if e.kind is EventKind.CONFIRMATION_REQUESTED
    ]
    # a trial that awaited its confirmation (CN25a) is confirmed, never activated
    asked += [
        o.request_notice_id
        for o in orders
        if o.activated_at is not None or o.consent_channel is not None
    ]
    requests_out = frozenset(nid for nid in asked if nid is not None and tx.outbox.delivered(nid))
    return History(
        by_order=by_order,
        replayable=[o for o in orders if _replays(events[o.id])],
        regime=regime,
        now=now,
        settled=settled,
        orders=orders,
        events=events,
        notices=notices,
        charges=charges,
        refunds=refunds,
        requests_out=requests_out,
        handed_over=handed_over,
        withdrawn=withdrawn,
        fee_notices=fee_notices,
    )


def check_invariants(
    lifecycle: Lifecycle,
    *,
    settled: bool = False,
    delivered: Iterable[Notice] | None = None,
) -> list[InvariantViolation]:
    """Every violation of docs/specification.md's invariants found in ``lifecycle``'s store, read a
    page of orders at a time.

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
    found = [
        violation
        for history in read_histories(lifecycle, settled=settled, delivered=delivered)
        for check in CHECKS
        for violation in check(history)
    ]
    return found + evidence_chains(lifecycle) + rule_c17_monthly_reminders(lifecycle, settled)


def rule_c17_monthly_reminders(lifecycle: Lifecycle, settled: bool) -> list[InvariantViolation]:
    """C17: at most one monthly reminder per subscriber and calendar month, never in
    the quiet hours, only to a subscriber whose active paid subscriptions (activated
    before the month began) it names; none where the policy sends none. When
    ``settled`` outside the quiet hours, every subscriber with such a subscription,
    unchanged since before this month, has had this month's."""
    regime, found = lifecycle.regime, []
    with lifecycle.store.transaction(readonly=True) as tx:
        sent: Counter[tuple[str, str]] = Counter()
        for notice in tx.outbox.all_notices():
            if notice.kind is not NoticeKind.MONTHLY_REMINDER:
                continue
            policy = regime.policy_at(notice.at, or_first=True)
            month, start = reminder_period(notice.at, policy)
            sent[notice.msisdn, month] += 1
            found += _check_reminder(tx, notice, start, policy)
            if sent[notice.msisdn, month] == 2:
                found.append(_v("C17", None, f"two reminders in {month} to {_who(notice)}"))
        now = as_utc(lifecycle.clock.now())
        policy = regime.policy_at(now, or_first=True)
        if settled and policy.monthly_reminder and quiet_period(now, policy) is None:
            month, start = reminder_period(now, policy)
            for order in tx.orders.all_orders():
                owed = _paying(order, start) and order.version == _version_at(tx, order, start)
                if owed and not sent[order.msisdn, month]:
                    found.append(_v("C17", order.id, f"no reminder in {month} of a paid order"))
                    sent[order.msisdn, month] = 1  # one finding per subscriber
    return found


def _who(notice: Notice) -> str:
    return mask_msisdn(notice.msisdn)


def _paying(order: Order, start: pendulum.DateTime) -> bool:
    """An active paid subscription activated before ``start`` (what C17 lists)."""
    return (
        order.state is OrderState.ACTIVE
        and order.kind is OfferKind.SUBSCRIPTION
        and order.price > 0
        and order.activated_at is not None
        and order.activated_at < start
    )


def _version_at(tx: Transaction, order: Order, when: pendulum.DateTime) -> int:
    """The order's version at ``when`` (its last event at or before it)."""
    return max((e.seq for e in tx.orders.events(order.id) if e.at <= when), default=0)


def _check_reminder(
    tx: Transaction, notice: Notice, start: pendulum.DateTime, policy: Policy
) -> list[InvariantViolation]:
    """One monthly reminder: out of the quiet hours, to a subscriber who had active
    paid subscriptions activated before the month, each of them named."""
    found = []
    if not policy.monthly_reminder:
        found.append(
            _v("C17", None, f"a monthly reminder to {_who(notice)} the policy never sends")
        )
    if quiet_period(notice.at, policy) is not None:
        found.append(_v("C17", None, f"a monthly reminder to {_who(notice)} in the quiet hours"))
    # commands at the reminder's very instant may have come before it or after it (a
    # resume, then a pause): an order counts as paid if it was just before that
    # instant or after any of them, and must be named if it was all along
    some, each = [], []
    for order in tx.orders.orders_of(notice.msisdn):
        events = tx.orders.events(order.id)
        cuts = [sum(1 for e in events if e.at < notice.at)]
        cuts += [n + 1 for n, e in enumerate(events) if e.at == notice.at]
        paid = [n > 0 and _paying(Order.from_events(events[:n]), start) for n in cuts]
        if any(paid):
            some.append(order)
        if all(paid):
            each.append(order)
    if not some:
        found.append(_v("C17", None, f"a monthly reminder to {_who(notice)}, who paid nothing"))
    for order in each:
        if order.service_name not in notice.text or order.access_code not in notice.text:
            found.append(_v("C17", order.id, "a paid subscription the monthly reminder leaves out"))
    return found


def evidence_chains(lifecycle: Lifecycle) -> list[InvariantViolation]:
    """C18: every order's hash chain is whole (the store check's first problems, and a
    count of the rest)."""
    result = lifecycle.verify_store()
    found = [_v("C18", p.order_id, str(p)) for p in result.examples]
    if result.bad_orders > len({p.order_id for p in result.examples}):
        found.append(_v("C18", None, result.summary()))
    return found


def _replays(events: list[Event]) -> bool:
    try:
        Order.from_events(events)
    except Exception:
        return False
    return True


def _collect(problems: list[InvariantViolation]) -> _Report:
    def report(invariant: str, order_id: str | None, message: str) -> None:
        problems.append(InvariantViolation(invariant, order_id, message))

    return report


_TRIAL_STARTS = frozenset({NoticeKind.TRIAL_STARTED, NoticeKind.CONVERTING_TRIAL_STARTED})
_TRIAL_REMINDERS = frozenset({NoticeKind.TRIAL_REMINDER, NoticeKind.CONVERSION_REMINDER})


def _check_trial(order: Order, events: list[Event], mine: list[Notice], report: _Report) -> None:
    starts = [n for n in mine if n.kind in _TRIAL_STARTS]
    started = [e for e in events if e.kind is EventKind.TRIAL_STARTED]
    # CN25a: a trial asked first starts only if confirmed (declined, expired or
    # cancelled before that, it never started)
    asked = any(e.kind is EventKind.CONFIRMATION_REQUESTED for e in events)
    if asked and not started:
        if starts:
            report("3", order.id, "a start notice for a trial that never started")
    elif order.state is not OrderState.REJECTED:
        if len(starts) != 1 or len(started) != 1:
            report("3", order.id, f"{len(starts)} start notices for one trial")
        elif starts[0].at > started[0].at:
            report("3", order.id, "the start notice came after the trial started")
    reminders = [n for n in mine if n.kind in _TRIAL_REMINDERS]
    if len(reminders) > 1:
        report("3", order.id, f"{len(reminders)} reminders for one trial")
    if order.trial_ends_at is not None:
        for reminder in reminders:
            if reminder.at >= order.trial_ends_at:
                report("3", order.id, "reminded after the trial ended")
    if any(e.kind is EventKind.CONSENT_GRANTED for e in events) or order.activated_at:
        report("3", order.id, "a trial became active")
    ended_unasked = (OrderState.DECLINED, OrderState.EXPIRED, OrderState.AWAITING_CONFIRMATION)
    if order.state not in (
        OrderState.TRIAL,
        OrderState.TRIAL_EXPIRING,
        OrderState.CANCELLED,
        OrderState.REJECTED,
    ) and not (asked and order.state in ended_unasked):
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
    if then.state is OrderState.PAUSED:
        report("P1", then.id, "charged while paused")
        return
    if then.state is not OrderState.ACTIVE:
        report("1", then.id, f"charged while {then.state.value}")
        return
    pack, start = then.pack, charge.period_start or charge.at
    if pack is not None and not (
        pack.valid_from is not None and pack.valid_from <= start < (pack.valid_until or start)
    ):
        report("IN3", then.id, "a pack charged outside its current validity period")
    if not any(e.kind in (EventKind.CONSENT_GRANTED, EventKind.TRIAL_CONVERTED) for e in prefix):
        report("1", then.id, "charged without consent evidence")
    start = charge.period_start or charge.at
    if charge.amount != expected_amount(then, start, policy):
        report("C12", then.id, f"charged {charge.amount}, quoted {then.price}")
    if start > charge.at:
        report("1", then.id, "charged for a period that had not started")
