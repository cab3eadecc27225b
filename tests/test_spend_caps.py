"""Per-charge caps (UK7: £40 a charge; EU1: €50): where the policy sets one, no
service priced above it is sold, and no charge above it is recorded, by
``record_charge`` or the billing pass (reason ``spend_cap``). None in the China
preset."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal

import attrs
import pendulum
import pytest

from tests.conftest import make_catalog
from tests.test_store_postgres import store_factories
from vas_lifecycle import (
    Catalog,
    Channel,
    ChargeRefusedError,
    Lifecycle,
    ManualClock,
    Policy,
    PolicyError,
    ReasonCode,
    RecordingNotifier,
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
