"""Pause and resume (P1, issue 18): a subscriber or the operator pauses a paid
subscription and nothing is charged while it is paused; resuming makes it active
again. An SP never pauses or resumes; a trial is free and its clock never stops, so it
is not paused. A paused subscription is live: it is listed, unsubscribed and counted
as the one live order of its service like an active one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal

import pendulum
import pytest

from tests.conftest import START, make_catalog
from tests.test_store_postgres import store_factories
from vas_lifecycle import (
    Channel,
    Charge,
    ChargeRefusedError,
    FeedEvent,
    FeedKind,
    InvalidArgumentError,
    InvalidStateError,
    Lifecycle,
    ManualClock,
    MemoryStore,
    NoticeKind,
    OrderState,
    ReasonCode,
    RecordingNotifier,
    Store,
)
from vas_lifecycle.testing import check_invariants

SUB = "+8613800138000"


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], Store]]:
    yield from store_factories(request.param, "vas_test_pause")


def _world(store: Store) -> tuple[Lifecycle, ManualClock]:
    clock = ManualClock(START)
    return Lifecycle(make_catalog(), clock=clock, store=store, notifier=RecordingNotifier()), clock


def _active(lc: Lifecycle, clock: ManualClock, service: str = "NEWS") -> str:
    order = lc.request(SUB, service, channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=30))
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    return order.id


def test_p1_nothing_is_charged_while_paused_and_resuming_charges_again(
    make_store: Callable[[], Store],
) -> None:
    lc, clock = _world(make_store())
    order_id = _active(lc, clock)
    paused = lc.pause(order_id, channel=Channel.HOTLINE, actor="agent-7")
    assert paused.state is OrderState.PAUSED and paused.is_live
    december = pendulum.datetime(2026, 12, 1, tz="Asia/Shanghai")
    clock.set(december.add(days=1))
    decision = lc.may_charge(order_id, Decimal("5.00"), period_start=december)
    assert not decision.allowed and decision.reason is ReasonCode.PAUSED
    with pytest.raises(ChargeRefusedError) as refused:
        lc.record_charge(order_id, Decimal("5.00"), key="dec", period_start=december)
    assert refused.value.reason is ReasonCode.PAUSED
    summary = lc.billing_run(dt.date(2026, 12, 1))
    assert summary.charged == 0 and summary.refused == {ReasonCode.PAUSED: 1}
    assert lc.charges(order_id) == []
    # the order is still the subscriber's one live order of its service
    assert [o.id for o in lc.live_orders(SUB)] == [order_id]
    again = lc.request(SUB, "NEWS", channel=Channel.WEB)
    assert again.state is OrderState.REJECTED
    resumed = lc.resume(order_id, channel=Channel.SELF_SERVICE)
    assert resumed.state is OrderState.ACTIVE
    assert lc.billing_run(dt.date(2026, 12, 1)).charged == 1
    kinds = [e.kind.value for e in lc.history(order_id)]
    assert kinds[-2:] == ["order_paused", "order_resumed"]
    assert check_invariants(lc) == []


def test_p1_the_subscriber_is_told_of_a_pause_and_of_a_resume_with_how_to_stop() -> None:
    lc, clock = _world(MemoryStore())
    order_id = _active(lc, clock)
    lc.pause(order_id, channel=Channel.SMS)
    lc.resume(order_id, channel=Channel.SMS)
    notices = {n.kind: n for n in lc.notices(order_id)}
    paused, resumed = notices[NoticeKind.PAUSED], notices[NoticeKind.RESUMED]
    order = lc.get(order_id)
    for notice in (paused, resumed):
        assert notice.msisdn == SUB
        assert order.service_name in notice.text and order.sp_name in notice.text
        assert "TD" in notice.text and "10086" in notice.text  # how to stop
    assert "不收取费用" in paused.text
    assert "5元" in resumed.text  # the price it is charged again


def test_p1_an_sp_never_pauses_or_resumes_and_nothing_changes() -> None:
    lc, clock = _world(MemoryStore())
    order_id = _active(lc, clock)
    before = lc.history(order_id)
    with pytest.raises(InvalidArgumentError, match="SP"):
        lc.pause(order_id, channel=Channel.SP_API)
    lc.pause(order_id, channel=Channel.WEB)
    with pytest.raises(InvalidArgumentError, match="SP"):
        lc.resume(order_id, channel="sp_api")
    assert len(lc.history(order_id)) == len(before) + 1
    assert lc.get(order_id).state is OrderState.PAUSED


def test_p1_a_trial_is_not_paused_its_clock_never_stops() -> None:
    lc, _clock = _world(MemoryStore())
    trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    with pytest.raises(InvalidStateError):
        lc.pause(trial.id, channel=Channel.SMS)
    assert lc.get(trial.id) == trial
    pending = lc.request(SUB, "WEATHER", channel=Channel.WEB)
    with pytest.raises(InvalidStateError):
        lc.pause(pending.id, channel=Channel.SMS)  # not yet confirmed
    with pytest.raises(InvalidStateError):
        lc.resume(pending.id, channel=Channel.SMS)
    assert lc.get(pending.id) == pending


def test_p1_pausing_twice_or_resuming_an_active_order_changes_nothing() -> None:
    lc, clock = _world(MemoryStore())
    order_id = _active(lc, clock)
    active = lc.get(order_id)
    assert lc.resume(order_id, channel=Channel.SMS) == active
    paused = lc.pause(order_id, channel=Channel.SMS)
    assert lc.pause(order_id, channel=Channel.SMS) == paused
    assert [n.kind for n in lc.notices(order_id)].count(NoticeKind.PAUSED) == 1


def test_c7_a_paused_subscription_is_listed_and_unsubscribed_like_an_active_one() -> None:
    lc, clock = _world(MemoryStore())
    order_id = _active(lc, clock)
    lc.pause(order_id, channel=Channel.SMS)
    (listing,) = lc.handle_sms(SUB, "0000", to="10086")
    assert lc.get(order_id).service_name in listing.text
    lc.handle_sms(SUB, "1", to="10086")
    cancelled = lc.get(order_id)
    assert cancelled.state is OrderState.CANCELLED
    assert lc.history(order_id)[-1].data["from_state"] == "paused"
    with pytest.raises(InvalidStateError):
        lc.resume(order_id, channel=Channel.SMS)
    assert check_invariants(lc) == []


def test_p1_a_billing_backend_hears_of_a_pause_and_a_resume_on_the_feed() -> None:
    lc, clock = _world(MemoryStore())
    heard: list[FeedEvent] = []
    lc.feed.subscribe("billing", heard.append)
    order_id = _active(lc, clock)
    lc.pause(order_id, channel=Channel.HOTLINE)
    lc.resume(order_id, channel=Channel.HOTLINE)
    lc.feed.publish()
    kinds = [e.kind for e in heard if e.order_id == order_id]
    assert kinds == [FeedKind.ACTIVATED, FeedKind.PAUSED, FeedKind.RESUMED]
    assert [e.state for e in heard][-2:] == ["paused", "active"]


def test_p1_the_checker_reports_a_charge_taken_while_paused() -> None:
    """An integration that writes a charge past the guard while the order is paused is
    caught by the invariant checker (P1)."""
    lc, clock = _world(MemoryStore())
    order_id = _active(lc, clock)
    paused = lc.pause(order_id, channel=Channel.SMS)
    rogue = Charge("rogue", order_id, paused.price, "2026-11", None, clock.now(), paused.version)
    with lc.store.transaction() as tx:
        tx.ledger.add_charge(rogue)
    problems = check_invariants(lc)
    assert [(p.invariant, p.order_id) for p in problems] == [("P1", order_id)]
