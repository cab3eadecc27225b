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

from vas_lifecycle.catalog import Catalog, OfferKind, Service
from vas_lifecycle.clock import ManualClock
from vas_lifecycle.errors import (
    ChargeRefusedError,
    ConfirmationRefusedError,
    InvalidStateError,
)
from vas_lifecycle.lifecycle import Lifecycle
from vas_lifecycle.notices import Notice
from vas_lifecycle.policy import Channel, Policy
from vas_lifecycle.states import OrderState
from vas_lifecycle.store.base import Store
from vas_lifecycle.store.memory import MemoryStore
from vas_lifecycle.testing.invariants import check_invariants

__all__ = ["FlakyNotifier", "LifecycleMachine", "demo_catalog"]


class NotifierDownError(ConnectionError):
    """What :class:`FlakyNotifier` raises while it is down."""


class FlakyNotifier:
    """A notifier that can be switched off; ``sent`` keeps what got through, once each."""

    def __init__(self) -> None:
        self.failing = False
        self.sent: list[Notice] = []
        self.attempts = 0
        self._ids: set[str] = set()

    def send(self, notice: Notice) -> None:
        self.attempts += 1
        if self.failing:
            raise NotifierDownError("SMS gateway unreachable")
        if notice.id not in self._ids:
            self._ids.add(notice.id)
            self.sent.append(notice)


def demo_catalog() -> Catalog:
    """Two SPs, one service of each offer kind plus a short trial and a second
    subscription on the same access code."""
    return Catalog(
        [
            Service(
                code="NEWS",
                sp_id="SP01",
                sp_name="星辰科技",
                name="新闻早报",
                kind=OfferKind.SUBSCRIPTION,
                price=Decimal("5.00"),
                access_code="10658001",
            ),
            Service(
                code="WEATHER",
                sp_id="SP01",
                sp_name="星辰科技",
                name="天气预报",
                kind=OfferKind.SUBSCRIPTION,
                price=Decimal("3.00"),
                access_code="10658001",
            ),
            Service(
                code="JOKE",
                sp_id="SP01",
                sp_name="星辰科技",
                name="笑话点播",
                kind=OfferKind.ON_DEMAND,
                price=Decimal("1.00"),
                access_code="10658001",
            ),
            Service(
                code="MUSIC7",
                sp_id="SP02",
                sp_name="乐享音乐",
                name="彩铃体验",
                kind=OfferKind.TRIAL,
                price=Decimal("0"),
                trial_days=7,
                access_code="10658002",
            ),
            Service(
                code="GAME1",
                sp_id="SP02",
                sp_name="乐享音乐",
                name="游戏一日体验",
                kind=OfferKind.TRIAL,
                price=Decimal("0"),
                trial_days=1,
                access_code="10658002",
            ),
        ]
    )


SUBSCRIBERS = ("+8613800000001", "+8613800000002", "+8613800000003")
STEPS = (1, 3, 60, 3600, 6 * 3600, 86400, 3 * 86400)
#: replies come mostly by SMS, sometimes through other channels (some not allowed)
REPLY_CHANNELS = st.sampled_from(
    [Channel.SMS] * 4 + [Channel.USSD, Channel.HOTLINE, Channel.WEB, Channel.IVR, Channel.SP_API]
)


class LifecycleMachine(RuleBasedStateMachine):
    """Random interleavings of everything a billing backend and its subscribers do."""

    start = pendulum.datetime(2026, 11, 24, 9, 0, tz="Asia/Shanghai")

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(self.start)
        self.notifier = FlakyNotifier()
        self.store = self.make_store()
        self.lifecycle = self.make_lifecycle()
        self.charge_keys = 0

    # --- hooks for integrators ----------------------------------------------------------
    def make_store(self) -> Store:
        return MemoryStore()

    def make_catalog(self) -> Catalog:
        return demo_catalog()

    def make_policy(self) -> Policy:
        return Policy.china_mobile()

    def make_lifecycle(self) -> Lifecycle:
        """A lifecycle on ``self.store``; called again on every simulated restart."""
        return Lifecycle(
            self.make_catalog(),
            policy=self.make_policy(),
            clock=self.clock,
            notifier=self.notifier,
            store=self.store,
            rng=random.Random(len(self.notifier.sent)),
        )

    # --- rules --------------------------------------------------------------------------
    orders = Bundle("orders")

    @rule(
        target=orders,
        msisdn=st.sampled_from(SUBSCRIBERS),
        service=st.sampled_from(["NEWS", "WEATHER", "JOKE", "MUSIC7", "GAME1"]),
        channel=st.sampled_from(list(Channel)),
    )
    def request(self, msisdn: str, service: str, channel: Channel) -> str:
        order = self.lifecycle.request(msisdn, service, channel=channel)
        assert order.state in {
            OrderState.AWAITING_CONFIRMATION,
            OrderState.TRIAL,
            OrderState.COMPLETED,
            OrderState.REJECTED,
        }
        return order.id

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
        try:
            after = command(order_id, msisdn=msisdn, channel=channel, code=quoted)
        except (ConfirmationRefusedError, InvalidStateError) as err:
            assert self.lifecycle.get(order_id) == before, "a refused reply changed the order"
            event(f"reply refused: {getattr(err, 'reason', 'state')}")
        else:
            event("confirmed" if accept else "declined")
            assert after.state is (OrderState.ACTIVE if accept else OrderState.DECLINED)
            assert own_number

    @rule(order_id=orders)
    def subscriber_confirms(self, order_id: str) -> None:
        """The common happy path: the subscriber answers ``Y <code>`` by SMS a little later."""
        self.clock.advance(dt.timedelta(seconds=30))
        before = self.lifecycle.get(order_id)
        if before.state is not OrderState.AWAITING_CONFIRMATION:
            return
        try:
            after = self.lifecycle.confirm(
                order_id, msisdn=before.msisdn, channel=Channel.SMS, code=before.code
            )
        except ConfirmationRefusedError as err:
            # only a closed window may refuse the subscriber's own well-formed reply
            assert err.reason.value == "window_closed", err
            assert self.lifecycle.get(order_id) == before
        else:
            assert after.state is OrderState.ACTIVE
            event("confirmed")

    @rule(order_id=orders, channel=st.sampled_from(list(Channel)))
    def unsubscribe(self, order_id: str, channel: Channel) -> None:
        before = self.lifecycle.get(order_id)
        after = self.lifecycle.unsubscribe(order_id, channel=channel)
        if before.is_live:
            assert after.state is OrderState.CANCELLED
        else:
            assert after == before
        assert self.lifecycle.unsubscribe(order_id, channel=channel) == after

    @rule(seconds=st.sampled_from(STEPS))
    def advance(self, seconds: int) -> None:
        self.clock.advance(dt.timedelta(seconds=seconds))

    @rule()
    def run_due(self) -> None:
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

    @rule()
    def restart(self) -> None:
        self.lifecycle = self.make_lifecycle()

    @rule(failing=st.booleans())
    def notifier_up_or_down(self, failing: bool) -> None:
        self.notifier.failing = failing

    @rule()
    def dispatch(self) -> None:
        self.lifecycle.dispatch()

    @invariant()
    def invariants_hold(self) -> None:
        problems = check_invariants(self.lifecycle)
        assert not problems, "\n".join(map(str, problems))

    def teardown(self) -> None:
        self.notifier.failing = False
        self.clock.advance(dt.timedelta(days=60))
        self.lifecycle.run_due()
        while self.lifecycle.dispatch():
            pass
        problems = check_invariants(self.lifecycle, settled=True, delivered=self.notifier.sent)
        assert not problems, "\n".join(map(str, problems))
