"""A rule-based state machine that drives any ``Lifecycle`` through random sequences.

Integrators subclass :class:`LifecycleMachine` and override ``make_store`` (or
``make_lifecycle``) to run the same random requests, replies, clock moves,
unsubscribes, charges, notifier failures and restarts against their own set-up; the
invariant checker runs after every step and once more, settled, at the end::

    class TestMyStore(LifecycleMachine):
        def make_store(self):
            return MyStore(...)

    TestMyStore.TestCase.settings = settings(max_examples=200)
    test_my_store = TestMyStore.TestCase
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pendulum
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from vas_lifecycle.catalog import Catalog, OfferKind
from vas_lifecycle.clock import ManualClock
from vas_lifecycle.errors import (
    ChargeRefusedError,
    ConfirmationRefusedError,
    IdempotencyKeyError,
    InvalidArgumentError,
    InvalidStateError,
    RefundRefusedError,
)
from vas_lifecycle.feed import PUBLISHED
from vas_lifecycle.lifecycle import Lifecycle
from vas_lifecycle.notices import Notice
from vas_lifecycle.notify import RecordingNotifier
from vas_lifecycle.order import Order
from vas_lifecycle.policy import Channel, Policy
from vas_lifecycle.records import FeedEvent
from vas_lifecycle.regimes import Regime
from vas_lifecycle.sms import CommandKind, parse
from vas_lifecycle.states import OrderState
from vas_lifecycle.store.base import Store
from vas_lifecycle.store.memory import MemoryStore
from vas_lifecycle.testing.catalogs import demo_catalog
from vas_lifecycle.testing.invariants import check_invariants
from vas_lifecycle.testing.strategies import sms_texts

__all__ = ["FeedConsumer", "FlakyNotifier", "LifecycleMachine", "demo_catalog", "expected_feed"]


class NotifierDownError(ConnectionError):
    """What :class:`FlakyNotifier` raises while it is down."""


class FlakyNotifier(RecordingNotifier):
    """A RecordingNotifier that can be switched off; ``attempts`` counts every try."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = False
        self.attempts = 0

    def send(self, notice: Notice) -> None:
        """Count the attempt; fail while switched off, else keep the notice."""
        self.attempts += 1
        if self.failing:
            raise NotifierDownError("SMS gateway unreachable")
        super().send(notice)


class BillingDownError(ConnectionError):
    """What :class:`FeedConsumer` raises while it is down."""


class FeedConsumer:
    """A feed subscriber's handler that can be switched off: it keeps every event it
    was handed (``heard``, repeats included), per order in the order heard."""

    def __init__(self) -> None:
        self.failing = False
        self.heard: list[FeedEvent] = []

    def __call__(self, item: FeedEvent) -> None:
        if self.failing:
            raise BillingDownError("billing backend unreachable")
        self.heard.append(item)

    def ids_by_order(self) -> dict[str, list[str]]:
        """Each order's event ids as first heard (a repeat of an id is dropped)."""
        seen: set[str] = set()
        by_order: dict[str, list[str]] = {}
        for heard in self.heard:
            if heard.id not in seen:
                seen.add(heard.id)
                by_order.setdefault(heard.order_id, []).append(heard.id)
        return by_order


def expected_feed(lifecycle: Lifecycle) -> dict[str, list[str]]:
    """Each order's feed event ids in commit order, worked out from its stored events
    and charges (not from the feed): its published events by version, each charge
    after the change that made the version it was taken at."""
    expected: dict[str, list[str]] = {}
    with lifecycle.store.transaction(readonly=True) as tx:
        for order in tx.orders.all_orders():
            items = [
                ((e.seq, 0, e.at), f"order:{order.id}:{e.seq}")
                for e in tx.orders.events(order.id)
                if e.kind in PUBLISHED
            ]
            items += [
                ((c.order_version, 1, c.at), f"charge:{c.key}") for c in tx.ledger.charges(order.id)
            ]
            if items:
                expected[order.id] = [eid for _key, eid in sorted(items)]
    return expected


SUBSCRIBERS = ("+8613800000001", "+8613800000002", "+8613800000003")
STEPS = (1, 3, 60, 3600, 6 * 3600, 86400, 3 * 86400)
#: replies come mostly by SMS, sometimes through other channels (some not allowed)
REPLY_CHANNELS = st.sampled_from(
    [Channel.SMS] * 4
    + [Channel.USSD, Channel.HOTLINE, Channel.WEB, Channel.IVR, Channel.SP_API]
    + [Channel.CONSENT_GATEWAY]  # IN1: the only one under india_trai
)


#: What a yes may do to one order: activate a subscription, complete an SP's on-demand
#: order (C5a), start a trial that awaited it (CN25a).
_CONFIRMATIONS = (
    (OrderState.AWAITING_CONFIRMATION, OrderState.ACTIVE),
    (OrderState.AWAITING_CONFIRMATION, OrderState.COMPLETED),
    (OrderState.AWAITING_CONFIRMATION, OrderState.TRIAL),
)


def _confirmed_state(order: Order) -> OrderState:
    if order.kind is OfferKind.TRIAL:  # CN25a: a trial confirmed first starts on the yes
        return OrderState.TRIAL
    return OrderState.COMPLETED if order.kind is OfferKind.ON_DEMAND else OrderState.ACTIVE


class LifecycleMachine(RuleBasedStateMachine):
    """Random interleavings of everything a billing backend and its subscribers do."""

    start = pendulum.datetime(2026, 11, 24, 9, 0, tz="Asia/Shanghai")

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(self.start)
        self.notifier = FlakyNotifier()
        self.billing = FeedConsumer()
        self.store = self.make_store()
        self.catalog = self.make_catalog()
        self.lifecycle = self.make_lifecycle()
        self.operator = self.lifecycle.policy.operator_number
        self.charge_keys = 0
        #: idempotency keys used so far, with the request and the order it answered
        self.keyed: dict[str, tuple[tuple[str, str, Channel], Order]] = {}

    # --- hooks for integrators ----------------------------------------------------------
    def make_store(self) -> Store:
        """The store the machine runs on (memory; override for your own)."""
        return MemoryStore()

    def make_catalog(self) -> Catalog:
        """The catalog the machine orders from (the demo catalog; override for your own)."""
        return demo_catalog()

    def make_policy(self) -> Policy | Regime:
        """The rules: a policy, or a regime whose versions the lifecycle follows by
        date (``Policy.regime("uk_psa")``)."""
        return Policy.china_mobile()

    def service_codes(self) -> list[str]:
        """The services requests are drawn from: the whole catalog by default."""
        return sorted(s.code for s in self.catalog)

    def numbers_texted(self) -> list[str]:
        """The numbers texts are sent to: the policy's operator number, every access
        code of the catalog, and one that belongs to nothing."""
        codes = sorted({s.access_code for s in self.catalog})
        return [self.lifecycle.policy.operator_number, *codes, "106"]

    def make_lifecycle(self) -> Lifecycle:
        """A lifecycle on ``self.store``, with ``self.billing`` subscribed to its event
        feed; called again on every simulated restart."""
        lifecycle = Lifecycle(
            self.catalog,
            policy=self.make_policy(),
            clock=self.clock,
            notifier=self.notifier,
            store=self.store,
            rng=random.Random(len(self.notifier.sent)),
        )
        lifecycle.feed.subscribe("billing", self.billing)
        return lifecycle

    # --- rules --------------------------------------------------------------------------
    orders = Bundle("orders")

    @rule(
        target=orders,
        msisdn=st.sampled_from(SUBSCRIBERS),
        data=st.data(),
        channel=st.sampled_from(list(Channel)),
    )
    def request(self, msisdn: str, data: st.DataObject, channel: Channel) -> str:
        """Someone orders a service, on any channel, maybe again under an idempotency key."""
        service = data.draw(st.sampled_from(self.service_codes()), label="service")
        key = data.draw(st.sampled_from([None, None, "retry-1", "retry-2"]), label="key")
        if key is not None and key in self.keyed:
            same = data.draw(st.booleans(), label="the same request again")
            return self._retry(key, self.keyed[key][0] if same else (msisdn, service, channel))
        order = self.lifecycle.request(msisdn, service, channel=channel, idempotency_key=key)
        if key is not None:
            self.keyed[key] = ((msisdn, service, channel), order)
        assert order.state in {
            OrderState.AWAITING_CONFIRMATION,
            OrderState.TRIAL,
            OrderState.COMPLETED,
            OrderState.REJECTED,
        }
        return order.id

    def _retry(self, key: str, args: tuple[str, str, Channel]) -> str:
        """A request under a key used before: the same request answers the first
        order as it was and does nothing; another is refused and does nothing."""
        (first_args, first), msisdn = self.keyed[key], args[0]
        before = len(self.lifecycle.orders_of(msisdn))
        try:
            again = self.lifecycle.request(msisdn, args[1], channel=args[2], idempotency_key=key)
        except IdempotencyKeyError:
            assert args != first_args, "the same request under its own key was refused"
        else:
            assert args == first_args and again == first, "a retry answered another order"
        assert len(self.lifecycle.orders_of(msisdn)) == before, "a retry made an order"
        return first.id

    @rule(
        order_id=orders,
        wait=st.sampled_from([0, 5, 5, 120]),
        own_number=st.sampled_from([True, True, True, False]),
        channel=REPLY_CHANNELS,
        code=st.sampled_from(["none", "right", "right", "wrong"]),
        accept=st.sampled_from([True, True, False]),
    )
    def reply(
        self, order_id: str, wait: int, own_number: bool, channel: Channel, code: str, accept: bool
    ) -> None:
        """The subscriber (or someone else) answers a confirmation request after ``wait``."""
        self.clock.advance(dt.timedelta(seconds=wait))
        before = self.lifecycle.get(order_id)
        msisdn = before.msisdn if own_number else "+8613999999999"
        quoted = {"none": None, "right": before.code, "wrong": "1"}[code]
        command = self.lifecycle.confirm if accept else self.lifecycle.decline
        gateway = channel is Channel.CONSENT_GATEWAY and accept
        extra = {"attestation": f"cg-{self.charge_keys}"} if gateway else {}
        try:
            after = command(order_id, msisdn=msisdn, channel=channel, code=quoted, **extra)
        except (ConfirmationRefusedError, InvalidStateError) as err:
            assert self.lifecycle.get(order_id) == before, "a refused reply changed the order"
            event(f"reply refused: {getattr(err, 'reason', 'state')}")
        else:
            event("confirmed" if accept else "declined")
            assert after.state is (_confirmed_state(before) if accept else OrderState.DECLINED)
            assert own_number

    @rule(order_id=orders)
    def subscriber_confirms(self, order_id: str) -> None:
        """The common happy path: the subscriber answers ``Y <code>`` by SMS a little
        later (through the consent gateway where only it confirms, IN1)."""
        self.clock.advance(dt.timedelta(seconds=30))
        before = self.lifecycle.get(order_id)
        if before.state is not OrderState.AWAITING_CONFIRMATION:
            return
        channels = self.lifecycle.policy.operator_channels
        channel = Channel.SMS if Channel.SMS in channels else min(channels)
        extra = {"attestation": "cg-ok"} if channel is Channel.CONSENT_GATEWAY else {}
        try:
            after = self.lifecycle.confirm(
                order_id, msisdn=before.msisdn, channel=channel, code=before.code, **extra
            )
        except ConfirmationRefusedError as err:
            # only a closed window, or a request that has not gone out yet (C1a), may
            # refuse the subscriber's own well-formed reply
            assert err.reason.value in ("window_closed", "request_not_sent"), err
            assert self.lifecycle.get(order_id) == before
            event(f"own reply refused: {err.reason.value}")
        else:
            assert after.state is _confirmed_state(before)
            event("confirmed")

    @rule(order_id=orders, channel=st.sampled_from(list(Channel)))
    def unsubscribe(self, order_id: str, channel: Channel) -> None:
        """The subscriber leaves, through any channel: it always works (C7)."""
        before = self.lifecycle.get(order_id)
        after = self.lifecycle.unsubscribe(order_id, channel=channel)
        if before.is_live:
            assert after.state is OrderState.CANCELLED
        else:
            assert after == before
        assert self.lifecycle.unsubscribe(order_id, channel=channel) == after

    @rule(order_id=orders, channel=st.sampled_from(list(Channel)), data=st.data())
    def pause_or_resume(self, order_id: str, channel: Channel, data: st.DataObject) -> None:
        """The subscriber or the operator pauses an active subscription or resumes a
        paused one (P1), mostly one that can be, else any order; an SP never can."""
        held = [
            o
            for msisdn in SUBSCRIBERS
            for o in self.lifecycle.orders_of(msisdn)
            if o.state in (OrderState.ACTIVE, OrderState.PAUSED)
        ]
        choose: bool = data.draw(st.booleans(), label="an active or paused order")
        if held and choose:
            before = data.draw(st.sampled_from(held), label="held")
        else:
            before = self.lifecycle.get(order_id)
        order_id = before.id
        if before.state in (OrderState.ACTIVE, OrderState.PAUSED):
            pause = before.state is OrderState.ACTIVE
        else:
            pause = data.draw(st.booleans(), label="pause")
        act = self.lifecycle.pause if pause else self.lifecycle.resume
        wanted = OrderState.PAUSED if pause else OrderState.ACTIVE
        try:
            after = act(order_id, channel=channel)
        except InvalidArgumentError:
            assert channel is Channel.SP_API
            assert self.lifecycle.get(order_id) == before
            event("an SP's pause or resume refused")
        except InvalidStateError:
            assert before.state not in (OrderState.ACTIVE, OrderState.PAUSED)
            assert self.lifecycle.get(order_id) == before
        else:
            assert channel is not Channel.SP_API
            assert after.state is wanted
            assert before.state is wanted or before.state in (OrderState.ACTIVE, OrderState.PAUSED)
            event("paused" if pause else "resumed")

    @rule(order_id=orders, part=st.sampled_from(["all", "half", "too_much"]))
    def refund(self, order_id: str, part: str) -> None:
        """The billing backend gives money back (IN5): never more than was charged;
        the same key again answers the same refund."""
        charged = sum((c.amount for c in self.lifecycle.charges(order_id)), Decimal(0))
        given = sum((r.amount for r in self.lifecycle.refunds(order_id)), Decimal(0))
        amount = {"all": None, "half": Decimal("0.50"), "too_much": charged + 1}[part]
        self.charge_keys += 1
        key = f"refund-{self.charge_keys}"
        try:
            refund = self.lifecycle.refund(order_id, key=key, reason="test", amount=amount)
        except RefundRefusedError as err:
            assert part == "too_much" or given == charged or part == "half", err
            event(f"refund refused: {err.reason}")
        else:
            assert refund.amount <= charged - given
            again = self.lifecycle.refund(order_id, key=key, reason="test", amount=amount)
            assert again == refund
            event("refunded")

    @rule(order_id=orders, claim=st.booleans())
    def use_or_claim(self, order_id: str, claim: bool) -> None:
        """The subscriber uses a service (UK6), or claims a wrongful activation (IN5)."""
        before = self.lifecycle.get(order_id)
        if claim:
            after = self.lifecycle.claim_refund(order_id, channel=Channel.HOTLINE)
            assert after.state is before.state and after.version == before.version + 1
        else:
            assert self.lifecycle.record_usage(order_id) == before

    @rule(seconds=st.sampled_from(STEPS))
    def advance(self, seconds: int) -> None:
        """Time passes."""
        self.clock.advance(dt.timedelta(seconds=seconds))

    @rule()
    def run_due(self) -> None:
        """The worker fires what is due (expiries, reminders, trial ends, renewals)."""
        moved = self.lifecycle.run_due()
        event(f"run_due moved {min(moved, 3)}{'+' if moved >= 3 else ''}")
        now = self.clock.now()
        for msisdn in SUBSCRIBERS:
            for order in self.lifecycle.orders_of(msisdn):
                due = order.due_at
                assert due is None or due > now, "run_due left a timer overdue"

    @rule(
        order_id=orders,
        amount=st.sampled_from(["price", "half", "more"]),
        period=st.sampled_from(["now", "month_start", "last_month", "next_month"]),
    )
    def charge(self, order_id: str, amount: str, period: str) -> None:
        """The billing backend asks C11, then charges: the answer and the charge agree."""
        order = self.lifecycle.get(order_id)
        value = {
            "price": order.price,
            "half": (order.price / 2).quantize(Decimal("0.01")),
            "more": order.price + 1,
        }[amount]
        local = self.clock.now().in_timezone(self.lifecycle.policy.timezone)
        start = {
            "now": None,
            "month_start": local.start_of("month"),
            "last_month": local.start_of("month").subtract(months=1),
            "next_month": local.start_of("month").add(months=1),
        }[period]
        decision = self.lifecycle.may_charge(order_id, value, period_start=start)
        self.charge_keys += 1
        key = f"charge-{self.charge_keys}"
        try:
            charge = self.lifecycle.record_charge(order_id, value, period_start=start, key=key)
        except ChargeRefusedError as err:
            assert not decision.allowed and err.reason == decision.reason
            event(f"charge refused: {err.reason}")
        else:
            event("charged")
            assert decision.allowed
            again = self.lifecycle.record_charge(order_id, value, period_start=start, key=key)
            assert again == charge, "a retried charge key must return the same charge"

    @rule(period=st.sampled_from(["month_start", "last_month"]))
    def billing_run(self, period: str) -> None:
        """A billing pass for a period; a second pass for it charges nothing."""
        local = self.clock.now().in_timezone(self.lifecycle.policy.timezone)
        start = local.start_of("month")
        if period == "last_month":
            start = start.subtract(months=1)
        summary = self.lifecycle.billing_run(start.date())
        event("billing pass charged" if summary.charged else "billing pass charged none")
        again = self.lifecycle.billing_run(start.date())
        assert again.charged == 0, "a second billing pass for a period must charge nothing"

    # --- the SMS channel --------------------------------------------------------------

    def _states(self) -> dict[str, tuple[str, OrderState]]:
        return {
            o.id: (o.msisdn, o.state)
            for msisdn in (*SUBSCRIBERS, "+8613999999999")
            for o in self.lifecycle.orders_of(msisdn)
        }

    def _sms(self, msisdn: str, text: str, to: str) -> None:
        before = self._states()
        replies = self.lifecycle.handle_sms(msisdn, text, to=to)
        after = self._states()
        changed = {
            oid: (before[oid][1], after[oid][1]) for oid in before if before[oid] != after[oid]
        }
        command = parse(text, self.lifecycle.policy, to_operator=to == self.operator)
        event(f"sms {command.kind.value}: {len(changed)} changed")
        assert replies, "every text gets a reply"
        assert all(len(r.text) < 1000 for r in replies)
        assert all(before[oid][0] == msisdn for oid in changed), (
            "another subscriber's order changed"
        )
        if command.kind in (CommandKind.UNKNOWN, CommandKind.HELP, CommandKind.LIST) or (
            to != self.operator and command.kind in (CommandKind.CONFIRM, CommandKind.DECLINE)
        ):
            assert not changed, f"{command.kind.value} changed {changed}"
        elif command.kind is CommandKind.CONFIRM:
            assert len(changed) <= 1
            assert all(c in _CONFIRMATIONS for c in changed.values())
        elif command.kind is CommandKind.DECLINE:
            assert len(changed) <= 1
            assert all(
                c == (OrderState.AWAITING_CONFIRMATION, OrderState.DECLINED)
                for c in changed.values()
            )
        else:
            assert all(new is OrderState.CANCELLED for _old, new in changed.values())

    @rule(msisdn=st.sampled_from(SUBSCRIBERS), text=sms_texts(), data=st.data())
    def sms(self, msisdn: str, text: str, data: st.DataObject) -> None:
        """Any text, to any number: it never raises, and changes only what it says."""
        self._sms(msisdn, text, data.draw(st.sampled_from(self.numbers_texted()), label="to"))

    @rule(
        order_id=orders,
        data=st.data(),
        full_width=st.booleans(),
        wait=st.sampled_from([1, 5, 60]),
    )
    def sms_answer_with_code(
        self, order_id: str, data: st.DataObject, full_width: bool, wait: int
    ) -> None:
        """The subscriber answers a confirmation request by SMS, quoting its code, with
        one of the policy's yes or no words."""
        policy = self.lifecycle.policy
        words = sorted(policy.confirm_words | policy.decline_words)
        word = data.draw(st.sampled_from(words), label="word")
        self.clock.advance(dt.timedelta(seconds=wait))
        order = self.lifecycle.get(order_id)
        text = f"{word} {order.code or ''}"
        if full_width:
            text = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" for c in text)
        self._sms(order.msisdn, text, self.operator)

    @rule(
        msisdn=st.sampled_from(SUBSCRIBERS),
        picks=st.lists(st.integers(0, 6), min_size=1, max_size=3),
        separator=st.sampled_from(["，", ",", "、", " "]),
        wait=st.sampled_from([10, 600, 3 * 3600]),
    )
    def sms_list_then_pick(self, msisdn: str, picks: list[int], separator: str, wait: int) -> None:
        """``0000`` (the policy's list word), then numbers from that list, sometimes
        after the pick window (C8)."""
        self._sms(msisdn, min(self.lifecycle.policy.list_words), self.operator)
        self.clock.advance(dt.timedelta(seconds=wait))
        self._sms(msisdn, separator.join(map(str, picks)), self.operator)

    @rule()
    def restart(self) -> None:
        """The process restarts: a new Lifecycle over the same store."""
        self.lifecycle = self.make_lifecycle()

    @rule(failing=st.booleans())
    def notifier_up_or_down(self, failing: bool) -> None:
        """The SMS gateway goes down, or comes back."""
        self.notifier.failing = failing

    @rule()
    def dispatch(self) -> None:
        """The outbox is dispatched (what fails stays for a retry)."""
        self.lifecycle.dispatch()

    @rule(failing=st.booleans())
    def billing_up_or_down(self, failing: bool) -> None:
        """The billing backend's feed consumer goes down, or comes back."""
        self.billing.failing = failing

    @rule()
    def publish(self) -> None:
        """The event feed is published to its subscribers."""
        self.lifecycle.feed.publish()

    @invariant()
    def invariants_hold(self) -> None:
        """After every step: the invariant checker finds nothing."""
        problems = check_invariants(self.lifecycle)
        assert not problems, "\n".join(map(str, problems))

    @invariant()
    def feed_heard_in_commit_order(self) -> None:
        """What billing heard of each order is the start of that order's feed."""
        expected = expected_feed(self.lifecycle)
        for order_id, heard in self.billing.ids_by_order().items():
            assert heard == expected.get(order_id, [])[: len(heard)], order_id

    def teardown(self) -> None:
        """The end: the gateway comes back, time runs on until nothing waits, and every
        invariant holds with every timer settled."""
        self.notifier.failing = False
        self.clock.advance(dt.timedelta(days=60))
        self.lifecycle.run_due()
        self.lifecycle.retry_parked()  # what an operator does once the gateway is back
        # then time runs on until nothing waits (notices held for the quiet hours, C16)
        for _ in range(100):
            while self.lifecycle.dispatch():
                pass
            due = self.lifecycle.next_due()
            if due is None:
                break
            self.clock.set(max(due, self.clock.now()))
            self.lifecycle.run_due()
        # billing is back too: every event is heard, at least once, in order
        self.billing.failing = False
        self.lifecycle.feed.retry_parked("billing")
        for _ in range(100):
            while self.lifecycle.feed.publish():
                pass
            due = self.lifecycle.feed.next_attempt()
            if due is None:
                break
            self.clock.set(max(due, self.clock.now()))
        assert self.lifecycle.feed.backlog("billing") == 0
        assert self.billing.ids_by_order() == expected_feed(self.lifecycle)
        problems = check_invariants(self.lifecycle, settled=True, delivered=self.notifier.sent)
        assert not problems, "\n".join(map(str, problems))
