"""Per-charge caps (UK7: £40 a charge; EU1: €50): where the policy sets one, no
service priced above it is sold, and no charge above it is recorded, by
``record_charge`` or the billing pass (reason ``spend_cap``). None in the China
preset."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal

import attrs
import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import make_catalog
from tests.test_store_postgres import store_factories
from vas_lifecycle import (
    Catalog,
    Channel,
    Charge,
    ChargeRefusedError,
    Lifecycle,
    ManualClock,
    MemoryStore,
    Period,
    Policy,
    PolicyError,
    ReasonCode,
    RecordingNotifier,
    SQLiteStore,
    Store,
)
from vas_lifecycle.testing import check_invariants

ZONE = "Asia/Shanghai"
EARLY = pendulum.datetime(2026, 11, 2, 9, tz=ZONE)
SUB = "+8613800138000"
CAPPED = Policy.china_mobile(per_charge_cap=Decimal("4.00"))


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], Store]]:
    yield from store_factories(request.param, "vas_test_caps")


def _cheaper(catalog: Catalog) -> Catalog:
    """The catalog after a price cut: NEWS now costs 3.00 (orders keep their frozen
    price, C12)."""
    return Catalog(
        [attrs.evolve(s, price=Decimal("3.00")) if s.code == "NEWS" else s for s in catalog]
    )


def _sold_before_the_cap(store: Store, clock: ManualClock) -> str:
    """A NEWS subscription at 5.00, sold and confirmed before the cap came in."""
    lc = Lifecycle(make_catalog(), clock=clock, store=store, notifier=RecordingNotifier())
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=30))
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    return order.id


def _capped(store: Store, clock: ManualClock) -> Lifecycle:
    catalog = Catalog([s for s in _cheaper(make_catalog()) if s.price <= Decimal("4.00")])
    return Lifecycle(catalog, clock=clock, store=store, policy=CAPPED, notifier=RecordingNotifier())


def test_uk7_a_service_priced_above_the_cap_is_not_sold() -> None:
    with pytest.raises(PolicyError, match="above the per-charge cap"):
        Lifecycle(make_catalog(), policy=CAPPED)  # NEWS and WEATHER cost 5.00


@pytest.mark.parametrize("cap", [Decimal("0"), Decimal("-1"), Decimal("NaN"), 40])
def test_uk7_a_cap_must_be_a_positive_amount(cap: object) -> None:
    with pytest.raises(PolicyError, match="per_charge_cap"):
        Policy.china_mobile(per_charge_cap=cap)


def test_uk7_a_charge_above_the_cap_is_refused(make_store: Callable[[], Store]) -> None:
    store, clock = make_store(), ManualClock(EARLY)
    order_id = _sold_before_the_cap(store, clock)
    lc = _capped(store, clock)
    decision = lc.may_charge(order_id, Decimal("5.00"))
    assert (decision.allowed, decision.reason) == (False, ReasonCode.SPEND_CAP)
    with pytest.raises(ChargeRefusedError) as refused:
        lc.record_charge(order_id, Decimal("5.00"), key="k1")
    assert refused.value.reason is ReasonCode.SPEND_CAP
    assert lc.charges(order_id) == []
    assert check_invariants(lc) == []


def test_uk7_the_billing_pass_charges_nothing_above_the_cap(
    make_store: Callable[[], Store],
) -> None:
    store, clock = make_store(), ManualClock(EARLY)
    above = _sold_before_the_cap(store, clock)
    lc = _capped(store, clock)
    below = lc.request("+8613900139000", "NEWS", channel=Channel.WEB)  # 3.00 now
    clock.advance(dt.timedelta(seconds=30))
    lc.confirm(below.id, msisdn="+8613900139000", channel=Channel.SMS)
    clock.set(pendulum.datetime(2026, 12, 1, 1, tz=ZONE))
    summary = lc.billing_run(dt.date(2026, 12, 1))
    assert (summary.charged, summary.amount) == (1, Decimal("3.00"))
    assert summary.refused == {ReasonCode.SPEND_CAP: 1}
    assert lc.charges(above) == [] and len(lc.charges(below.id)) == 1
    assert check_invariants(lc) == []


def test_uk7_the_china_preset_has_no_cap() -> None:
    assert Policy.china_mobile().per_charge_cap is None


def test_uk7_the_checker_finds_a_charge_above_the_cap(make_store: Callable[[], Store]) -> None:
    store, clock = make_store(), ManualClock(EARLY)
    order_id = _sold_before_the_cap(store, clock)
    lc = Lifecycle(make_catalog(), clock=clock, store=store, notifier=RecordingNotifier())
    lc.record_charge(order_id, Decimal("5.00"), key="k1")  # no cap yet
    problems = check_invariants(_capped(store, clock))
    assert [(p.invariant, p.order_id) for p in problems] == [("UK7", order_id)]


MONTHLY = Policy.china_mobile(spend_cap=Decimal("7.00"))


def _both(lc: Lifecycle, msisdn: str) -> list[str]:
    """NEWS (5.00 a month) and WEATHER (3.00) for ``msisdn``, confirmed: 8.00 in all,
    above the cap of 7.00."""
    ids = []
    for code in ("NEWS", "WEATHER"):
        order = lc.request(msisdn, code, channel=Channel.WEB)
        lc.clock.advance(dt.timedelta(seconds=30))  # type: ignore[attr-defined]
        lc.confirm(order.id, msisdn=msisdn, channel=Channel.SMS)
        ids.append(order.id)
    return ids


def _monthly(store: Store) -> tuple[Lifecycle, ManualClock]:
    clock = ManualClock(EARLY)
    lc = Lifecycle(
        make_catalog(), clock=clock, store=store, policy=MONTHLY, notifier=RecordingNotifier()
    )
    return lc, clock


def test_uk7_a_monthly_cap_refuses_the_charge_that_would_pass_it(
    make_store: Callable[[], Store],
) -> None:
    lc, clock = _monthly(make_store())
    news, weather = _both(lc, SUB)
    lc.record_charge(news, Decimal("5.00"), key="n-11")
    decision = lc.may_charge(weather, Decimal("3.00"))
    assert (decision.allowed, decision.reason) == (False, ReasonCode.SPEND_CAP)
    with pytest.raises(ChargeRefusedError) as refused:
        lc.record_charge(weather, Decimal("3.00"), key="w-11")
    assert refused.value.reason is ReasonCode.SPEND_CAP
    # a new calendar month in Shanghai: the cap starts again
    clock.set(pendulum.datetime(2026, 12, 1, 0, 5, tz=ZONE))
    december = pendulum.datetime(2026, 12, 1, tz=ZONE)
    lc.record_charge(weather, Decimal("3.00"), key="w-12", period_start=december)
    assert lc.spend(SUB).amount == Decimal("3.00")
    assert check_invariants(lc) == []


def test_uk7_the_billing_pass_keeps_every_subscriber_within_the_cap(
    make_store: Callable[[], Store],
) -> None:
    lc, clock = _monthly(make_store())
    mine, theirs = _both(lc, SUB), _both(lc, "+8613900139000")
    clock.set(pendulum.datetime(2026, 12, 1, 1, tz=ZONE))
    summary = lc.billing_run(dt.date(2026, 12, 1), batch=3)  # a subscriber across batches
    assert summary.charged == 2 and summary.amount <= Decimal("14.00")
    assert summary.refused == {ReasonCode.SPEND_CAP: 2}
    for msisdn, ids in ((SUB, mine), ("+8613900139000", theirs)):
        assert sum(len(lc.charges(i)) for i in ids) == 1
        assert lc.spend(msisdn).amount in (Decimal("5.00"), Decimal("3.00"))
    assert lc.billing_run(dt.date(2026, 12, 1)).charged == 0  # still over: none more


def test_uk7_a_weekly_cap_counts_the_iso_week() -> None:
    weekly = Policy.china_mobile(spend_cap=Decimal("6.00"), spend_cap_period=Period.WEEK)
    clock = ManualClock(pendulum.datetime(2026, 11, 29, 9, tz=ZONE))  # a Sunday
    lc = Lifecycle(make_catalog(), clock=clock, policy=weekly, notifier=RecordingNotifier())
    news, weather = _both(lc, SUB)
    lc.record_charge(news, Decimal("5.00"), key="n")
    assert lc.may_charge(weather, Decimal("3.00")).reason is ReasonCode.SPEND_CAP
    clock.set(pendulum.datetime(2026, 11, 30, 0, 1, tz=ZONE))  # Monday: a new week
    assert lc.may_charge(weather, Decimal("3.00")).allowed


@pytest.mark.parametrize(
    "changes",
    [
        {"spend_cap": Decimal("0")},
        {"spend_cap": 300},
        {"spend_cap": Decimal("300"), "spend_cap_period": Period.DAY},
        {"spend_cap": Decimal("300"), "spend_cap_period": "year"},
    ],
)
def test_uk7_an_impossible_spend_cap_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(PolicyError, match="spend_cap"):
        Policy.china_mobile(**changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@settings(max_examples=25, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["charge", "bill", "later"]), st.integers(0, 3)),
        max_size=25,
    )
)
def test_uk7_no_sequence_of_charges_passes_the_cap(kind: str, steps: list[tuple[str, int]]) -> None:
    """However charges and billing passes interleave over the months, no subscriber's
    spend in a calendar month passes the cap."""
    store = MemoryStore() if kind == "memory" else SQLiteStore(":memory:")
    clock = ManualClock(pendulum.datetime(2026, 10, 31, 22, tz=ZONE))
    lc = Lifecycle(
        make_catalog(), clock=clock, store=store, policy=MONTHLY, notifier=RecordingNotifier()
    )
    orders = _both(lc, SUB) + _both(lc, "+8613900139000")
    clock.set(pendulum.datetime(2026, 11, 1, 1, tz=ZONE))
    for n, (action, who) in enumerate(steps):
        if action == "charge":
            with contextlib.suppress(ChargeRefusedError):
                lc.record_charge(orders[who], lc.get(orders[who]).price, key=f"k{n}")
        elif action == "bill":
            local = clock.now().in_timezone(ZONE)
            lc.billing_run(dt.date(local.year, local.month, 1))
        else:
            clock.advance(dt.timedelta(days=9))
    months = {c.at.in_timezone(ZONE).format("YYYY-MM") for o in orders for c in lc.charges(o)}
    for msisdn in (SUB, "+8613900139000"):
        for month in months:
            at = pendulum.parse(f"{month}-15T12:00:00+08:00")
            assert lc.spend(msisdn, at=at).amount <= Decimal("7.00")  # type: ignore[arg-type]
    assert check_invariants(lc) == []


def test_uk7_the_checker_reports_a_month_charged_past_the_cap_refunds_taken_off() -> None:
    """An integration that records charges past the guard is caught: the checker adds
    up each subscriber's charges per calendar month, less their refunds."""
    clock = ManualClock(pendulum.datetime(2026, 11, 10, 9, tz=ZONE))
    lc = Lifecycle(make_catalog(), clock=clock, policy=MONTHLY, notifier=RecordingNotifier())
    news, weather = _both(lc, SUB)
    first = lc.record_charge(news, Decimal("5.00"), key="news")
    rogue = Charge("rogue", weather, Decimal("3.00"), "2026-11", None, clock.now(), 3)
    with lc.store.transaction() as tx:
        tx.ledger.add_charge(attrs.evolve(rogue, order_version=lc.get(weather).version))
    problems = [p for p in check_invariants(lc) if p.invariant == "UK7"]
    assert [p.message for p in problems] == ["+86138****8000 charged 8.00 in 2026-11"]
    lc.refund(news, key="back", reason="over the cap", amount="1.00", charge_key=first.key)
    assert [p for p in check_invariants(lc) if p.invariant == "UK7"] == []
