"""Refunds (IN5, issue 18): money given back against a recorded charge, never more
than was charged, idempotent by key, recorded as the order's evidence, in the ledger
(the spend goes down), on the feed and with a notice; and the refunds the rules make
due: an unsubscribe or a claim inside ``Policy.refund_window`` after the activation."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal

import pendulum
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.conftest import START, make_catalog
from tests.test_store_postgres import store_factories
from vas_lifecycle import (
    Catalog,
    Channel,
    Charge,
    FeedEvent,
    FeedKind,
    IdempotencyKeyError,
    InvalidAmountError,
    InvalidArgumentError,
    Lifecycle,
    ManualClock,
    MemoryStore,
    NoticeKind,
    OfferKind,
    OrderState,
    Period,
    Policy,
    PolicyError,
    ReasonCode,
    RecordingNotifier,
    Refund,
    RefundClaim,
    RefundRefusedError,
    Service,
    SQLiteStore,
    Store,
    UnknownOrderError,
)
from vas_lifecycle.refunds import claim_in_time, decide_refund, due, left_to_refund
from vas_lifecycle.testing import check_invariants

SUB = "+8613800138000"
IN5 = Policy.china_mobile(refund_window=dt.timedelta(hours=24))
DAILY = Catalog(
    [
        *make_catalog(),
        Service(
            code="DAILY",
            sp_id="SP01",
            sp_name="星辰科技",
            name="每日一笑",
            kind=OfferKind.SUBSCRIPTION,
            price=Decimal("1.00"),
            access_code="10658001",
            period=Period.DAY,
        ),
    ]
)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], Store]]:
    yield from store_factories(request.param, "vas_test_refunds")


def _world(store: Store, policy: Policy = IN5) -> tuple[Lifecycle, ManualClock]:
    clock = ManualClock(START)
    lc = Lifecycle(
        make_catalog(), clock=clock, store=store, policy=policy, notifier=RecordingNotifier()
    )
    return lc, clock


def _charged(lc: Lifecycle, clock: ManualClock, amount: str = "5.00") -> tuple[str, Charge]:
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=30))
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    return order.id, lc.record_charge(order.id, Decimal(amount), key=f"c-{order.id}")


# --- the rule on plain values ----------------------------------------------------------

AT = pendulum.datetime(2026, 12, 1, tz="UTC")


def _charge(key: str, amount: str, minutes: int = 0) -> Charge:
    return Charge(key, "o1", Decimal(amount), "2026-12", None, AT.add(minutes=minutes), 3)


def _refund(key: str, charge_key: str, amount: str) -> Refund:
    return Refund(key, "o1", charge_key, Decimal(amount), "why", AT, 4)


def test_in5_what_is_left_of_each_charge_is_its_amount_less_its_refunds() -> None:
    charges = [_charge("a", "5.00"), _charge("b", "3.00", 1)]
    refunds = [_refund("r1", "a", "1.50"), _refund("r2", "a", "1.00")]
    assert left_to_refund(charges, refunds) == {"a": Decimal("2.50"), "b": Decimal("3.00")}


def test_in5_a_refund_takes_the_latest_open_charge_and_never_more_than_is_left() -> None:
    charges = [_charge("a", "5.00"), _charge("b", "3.00", 1)]
    assert decide_refund(charges, [], None, None) == (charges[1], Decimal("3.00"))
    paid_b = [_refund("r", "b", "3.00")]
    assert decide_refund(charges, paid_b, None, None) == (charges[0], Decimal("5.00"))
    assert decide_refund(charges, paid_b, "a", Decimal("5.01")) is ReasonCode.MORE_THAN_CHARGED
    assert decide_refund(charges, paid_b, "b", None) is ReasonCode.NOTHING_TO_REFUND
    assert decide_refund(charges, paid_b, "zz", None) is ReasonCode.NOTHING_TO_REFUND
    assert decide_refund([], [], None, None) is ReasonCode.NOTHING_TO_REFUND


def test_in5_a_claim_makes_due_what_is_left_of_the_charges_taken_before_it() -> None:
    charges = [_charge("a", "5.00"), _charge("b", "3.00", 60)]
    claim = RefundClaim("o1", "IN5", AT.add(minutes=30))
    policy = Policy.china_mobile(refund_window=dt.timedelta(hours=24))
    (owed,) = due(claim, SUB, charges, [_refund("r", "a", "2.00")], policy)
    assert (owed.charge_key, owed.amount, owed.rule) == ("a", Decimal("3.00"), "IN5")
    assert due(claim, SUB, charges, [_refund("r", "a", "5.00")], policy) == []


def test_in5_the_window_counts_from_the_activation_and_needs_a_policy() -> None:
    lc, clock = _world(MemoryStore())
    order_id = _charged(lc, clock)[0]
    order = lc.get(order_id)
    assert order.activated_at is not None
    edge = pendulum.instance(order.activated_at).add(hours=24)
    assert claim_in_time(order, edge, IN5)
    assert not claim_in_time(order, edge.add(seconds=1), IN5)
    assert not claim_in_time(order, edge, Policy.china_mobile())
    with pytest.raises(PolicyError):
        Policy.china_mobile(refund_window=dt.timedelta(0))


# --- through the public API -------------------------------------------------------------


def test_in5_an_unsubscribe_inside_the_window_makes_the_charge_due_until_refunded(
    make_store: Callable[[], Store],
) -> None:
    lc, clock = _world(make_store())
    order_id, charge = _charged(lc, clock)
    clock.advance(dt.timedelta(hours=23))
    lc.unsubscribe(order_id, channel=Channel.SMS)
    (owed,) = lc.refunds_due()
    assert (owed.order_id, owed.msisdn, owed.charge_key) == (order_id, SUB, charge.key)
    assert (owed.amount, owed.rule, owed.claimed_at) == (charge.amount, "IN5", clock.now())
    assert lc.history(order_id)[-1].data["refund_claim"] == "IN5"
    refund = lc.refund(order_id, key="r-1", reason="IN5: unsubscribed within 24 h")
    assert (refund.charge_key, refund.amount) == (charge.key, charge.amount)
    assert lc.refunds_due() == []
    assert lc.refunds(order_id) == [refund]
    assert lc.spend(SUB, at=charge.at).amount == 0
    assert check_invariants(lc) == []


def test_in5_an_unsubscribe_after_the_window_makes_nothing_due() -> None:
    lc, clock = _world(MemoryStore())
    order_id = _charged(lc, clock)[0]
    clock.advance(dt.timedelta(hours=24, seconds=31))
    lc.unsubscribe(order_id, channel=Channel.SMS)
    assert lc.refunds_due() == []
    assert "refund_claim" not in lc.history(order_id)[-1].data


def test_in5_the_china_preset_makes_nothing_due_and_its_events_are_unchanged() -> None:
    lc, clock = _world(MemoryStore(), Policy.china_mobile())
    order_id = _charged(lc, clock)[0]
    lc.unsubscribe(order_id, channel=Channel.SMS)
    assert lc.refunds_due() == []
    assert dict(lc.history(order_id)[-1].data) == {
        "reason": "unsubscribed",
        "from_state": "active",
    }


def test_in5_a_claim_inside_the_window_is_evidence_and_makes_the_charges_due() -> None:
    lc, clock = _world(MemoryStore())
    order_id, charge = _charged(lc, clock)
    clock.advance(dt.timedelta(hours=2))
    after = lc.claim_refund(order_id, channel=Channel.HOTLINE, text="I never ordered this")
    assert after.state is OrderState.ACTIVE  # leaving is a command of its own
    event = lc.history(order_id)[-1]
    assert event.kind.value == "refund_claimed" and event.data["rule"] == "IN5"
    assert event.text_in == "I never ordered this" and event.actor == SUB
    assert [(d.charge_key, d.amount) for d in lc.refunds_due()] == [(charge.key, charge.amount)]
    # a second claim, or the unsubscribe that follows, is the same claim
    lc.claim_refund(order_id, channel=Channel.SMS)
    lc.unsubscribe(order_id, channel=Channel.SMS)
    assert len(lc.refunds_due()) == 1
    # a claim out of time is kept as evidence, and makes nothing due
    other, _second = _charged(lc, clock)
    clock.advance(dt.timedelta(days=2))
    lc.claim_refund(other, channel=Channel.HOTLINE)
    assert lc.history(other)[-1].data["rule"] == ""
    assert [d.order_id for d in lc.refunds_due()] == [order_id]
    assert check_invariants(lc) == []


def test_in5_refunds_never_exceed_the_charge_and_a_refused_one_stores_nothing(
    make_store: Callable[[], Store],
) -> None:
    lc, clock = _world(make_store())
    order_id, charge = _charged(lc, clock)
    part = lc.refund(order_id, key="r-1", reason="goodwill", amount="1.50")
    assert part.amount == Decimal("1.50")
    before = (lc.history(order_id), lc.refunds(order_id), lc.notices(order_id))
    with pytest.raises(RefundRefusedError) as refused:
        lc.refund(order_id, key="r-2", reason="too much", amount="3.51")
    assert refused.value.reason is ReasonCode.MORE_THAN_CHARGED
    assert (lc.history(order_id), lc.refunds(order_id), lc.notices(order_id)) == before
    rest = lc.refund(order_id, key="r-3", reason="the rest", charge_key=charge.key)
    assert rest.amount == Decimal("3.50")
    with pytest.raises(RefundRefusedError) as nothing:
        lc.refund(order_id, key="r-4", reason="again")
    assert nothing.value.reason is ReasonCode.NOTHING_TO_REFUND
    assert sum(r.amount for r in lc.refunds(order_id)) == charge.amount
    assert lc.spend(SUB).amount == 0 and lc.spend(SUB).charges == 1
    assert check_invariants(lc) == []


def test_in5_a_refund_is_idempotent_by_key() -> None:
    lc, clock = _world(MemoryStore())
    order_id = _charged(lc, clock)[0]
    first = lc.refund(order_id, key="r-1", reason="wrongful", amount="2.00")
    assert lc.refund(order_id, key="r-1", reason="wrongful", amount="2.00") == first
    assert lc.refund(order_id, key="r-1", reason="wrongful") == first
    with pytest.raises(IdempotencyKeyError):
        lc.refund(order_id, key="r-1", reason="wrongful", amount="1.00")
    with pytest.raises(IdempotencyKeyError):
        lc.refund(order_id, key="r-1", reason="another reason")
    assert lc.refunds(order_id) == [first]
    assert [n.kind for n in lc.notices(order_id)].count(NoticeKind.REFUNDED) == 1


def test_in5_a_refund_is_evidence_on_the_feed_and_told_to_the_subscriber() -> None:
    lc, clock = _world(MemoryStore())
    heard: list[FeedEvent] = []
    lc.feed.subscribe("billing", heard.append)
    order_id, charge = _charged(lc, clock)
    refund = lc.refund(
        order_id, key="r-1", reason="wrongful activation", actor="agent-7", channel="hotline"
    )
    event = lc.history(order_id)[-1]
    assert event.kind.value == "refund_recorded" and event.seq == refund.order_version
    assert (event.actor, event.channel) == ("agent-7", Channel.HOTLINE)
    assert dict(event.data) == {
        "key": "r-1",
        "charge_key": charge.key,
        "amount": "5.00",
        "reason": "wrongful activation",
    }
    lc.feed.publish()
    (published,) = [e for e in heard if e.kind is FeedKind.REFUND_RECORDED]
    assert published.data["amount"] == "5.00" and published.data["charge_key"] == charge.key
    (notice,) = [n for n in lc.notices(order_id) if n.kind is NoticeKind.REFUNDED]
    order = lc.get(order_id)
    for part in (order.sp_name, order.service_name, "5元", "10086"):
        assert part in notice.text, part


def test_in5_bad_refund_input_gets_our_errors_and_changes_nothing() -> None:
    lc, clock = _world(MemoryStore())
    order_id = _charged(lc, clock)[0]
    before = lc.history(order_id)
    with pytest.raises(InvalidAmountError):
        lc.refund(order_id, key="r", reason="x", amount="0")
    with pytest.raises(InvalidAmountError):
        lc.refund(order_id, key="r", reason="x", amount="-1")
    with pytest.raises(InvalidArgumentError):
        lc.refund(order_id, key="r", reason="  ")
    with pytest.raises(InvalidArgumentError):
        lc.refund(order_id, key="", reason="x")
    with pytest.raises(InvalidArgumentError):
        lc.refund(order_id, key="r", reason="x", channel="fax")
    with pytest.raises(UnknownOrderError):
        lc.refund("no-such-order", key="r", reason="x")
    with pytest.raises(RefundRefusedError):
        lc.refund(order_id, key="r", reason="x", charge_key="not-a-charge-of-it")
    assert lc.history(order_id) == before and lc.refunds(order_id) == []


@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["charge", "refund", "partial", "wait"]), st.integers(1, 499)),
        max_size=25,
    ),
    sqlite=st.booleans(),
)
def test_in5_every_sequence_keeps_the_spend_the_charges_less_the_refunds(
    steps: list[tuple[str, int]], sqlite: bool
) -> None:
    """Spend equals the sum of the charges less the refunds, in every period, and no
    charge is ever refunded past its amount, whatever the order of charges (one per
    daily period), partial and whole refunds, and days passing."""
    store: Store = SQLiteStore(":memory:") if sqlite else MemoryStore()
    clock = ManualClock(START)
    lc = Lifecycle(DAILY, clock=clock, store=store, policy=IN5, notifier=RecordingNotifier())
    order = lc.request(SUB, "DAILY", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=30))
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    for n, (action, cents) in enumerate(steps):
        if action == "wait":
            clock.advance(dt.timedelta(hours=cents % 30 + 1))
        elif action == "charge":
            day = clock.now().in_timezone("Asia/Shanghai").start_of("day")
            if lc.may_charge(order.id, order.price, period_start=day):
                lc.record_charge(order.id, order.price, key=f"c{n}", period_start=day)
        else:
            amount = None if action == "refund" else Decimal(cents) / 100
            with contextlib.suppress(RefundRefusedError):
                lc.refund(order.id, key=f"r{n}", reason="test", amount=amount)
    charges, refunds = lc.charges(order.id), lc.refunds(order.id)
    event(f"charges: {min(len(charges), 3)}, refunds: {min(len(refunds), 3)}")
    assert all(v >= 0 for v in left_to_refund(charges, refunds).values())
    net = sum((c.amount for c in charges), Decimal(0)) - sum(
        (r.amount for r in refunds), Decimal(0)
    )
    year = lc.spend(SUB, period="month", at=START)
    later = [lc.spend(SUB, period="month", at=START.add(months=k)) for k in (1, 2)]
    assert year.amount + sum((s.amount for s in later), Decimal(0)) == net
    assert check_invariants(lc) == []
    lc.close()


def test_in5_the_checker_reports_a_refund_past_its_charge() -> None:
    lc, clock = _world(MemoryStore())
    order_id, charge = _charged(lc, clock)
    refund = lc.refund(order_id, key="r-1", reason="wrongful")
    forged = Refund("r-2", order_id, charge.key, Decimal("1.00"), "forged", clock.now(), 99)
    with lc.store.transaction() as tx:
        tx.ledger.add_refund(forged)
    problems = {(p.invariant, p.message) for p in check_invariants(lc)}
    assert ("IN5", f"charge {charge.key} refunded 6.00 of {charge.amount}") in problems
    assert ("IN5", "refund r-2 has no evidence event") in problems
    assert refund.order_version == len(lc.history(order_id))
