"""The spend ledger (issue 18): what each subscriber was charged, per access code and
calendar period of the policy's time zone, kept with every charge, by
``record_charge`` and by the billing pass alike. ``lc.spend`` reads it; spend
reminders and caps will."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import make_catalog
from tests.test_store_postgres import store_factories
from vas_lifecycle import (
    Channel,
    InvalidArgumentError,
    Lifecycle,
    ManualClock,
    MemoryStore,
    Policy,
    RecordingNotifier,
    SQLiteStore,
    Store,
)

ZONE = "Asia/Shanghai"
SUB, OTHER = "+8613800138000", "+8613900139000"


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], Store]]:
    yield from store_factories(request.param, "vas_test_spend")


def _world(store: Store, when: pendulum.DateTime, policy: Policy | None = None) -> Lifecycle:
    return Lifecycle(
        make_catalog(),
        clock=ManualClock(when),
        store=store,
        policy=policy,
        notifier=RecordingNotifier(),
    )


def _subscribe(lc: Lifecycle, msisdn: str, code: str) -> str:
    order = lc.request(msisdn, code, channel=Channel.WEB)
    lc.clock.advance(dt.timedelta(seconds=30))  # type: ignore[attr-defined]
    lc.confirm(order.id, msisdn=msisdn, channel=Channel.SMS)
    return order.id


def test_spend_ledger_counts_each_charge_in_its_local_month_and_access_code(
    make_store: Callable[[], Store],
) -> None:
    lc = _world(make_store(), pendulum.datetime(2026, 11, 10, 9, tz=ZONE))
    news = _subscribe(lc, SUB, "NEWS")
    joke = lc.request(SUB, "JOKE", channel=Channel.WEB)  # on demand: charged once
    clock = lc.clock
    # 23:30 on 30 November in Shanghai is November there (15:30 UTC)
    clock.set(pendulum.datetime(2026, 11, 30, 23, 30, tz=ZONE))  # type: ignore[attr-defined]
    lc.record_charge(news, Decimal("5.00"), key="nov")
    lc.record_charge(joke.id, joke.price, key="joke")
    # and 00:30 on 1 December is December, though still 30 November in UTC
    clock.set(pendulum.datetime(2026, 12, 1, 0, 30, tz=ZONE))  # type: ignore[attr-defined]
    assert lc.billing_run(dt.date(2026, 12, 1)).charged == 1
    november = lc.spend(SUB, at=pendulum.datetime(2026, 11, 15, tz=ZONE))
    assert (november.period_key, november.first_day, november.end_day) == (
        "2026-11",
        "2026-11-01",
        "2026-12-01",
    )
    assert (november.amount, november.charges) == (Decimal("5.00") + joke.price, 2)
    december = lc.spend(SUB)
    assert (december.period_key, december.amount, december.charges) == (
        "2026-12",
        Decimal("5.00"),
        1,
    )
    news_code = lc.get(news).access_code
    same_code = joke.price if joke.access_code == news_code else Decimal(0)
    at_nov = pendulum.datetime(2026, 11, 15, tz=ZONE)
    assert lc.spend(SUB, news_code, at=at_nov).amount == Decimal("5.00") + same_code
    assert lc.spend(SUB, "10650000", at=at_nov).amount == Decimal(0)  # another access code
    assert lc.spend(SUB, period="day").charges == 1
    assert lc.spend(SUB, period="week").period_key == "2026-W49"
    assert lc.spend(OTHER).charges == 0


def test_spend_ledger_days_follow_the_policys_zone_across_a_dst_change() -> None:
    london = Policy.china_mobile(timezone="Europe/London")
    # 25 October 2026: British clocks go back an hour; 00:30 BST is 23:30 UTC the day before
    lc = _world(MemoryStore(), pendulum.datetime(2026, 10, 20, 9, tz="Europe/London"), london)
    news = _subscribe(lc, SUB, "NEWS")
    lc.clock.set(pendulum.datetime(2026, 10, 25, 0, 30, tz="Europe/London"))  # type: ignore[attr-defined]
    lc.record_charge(news, Decimal("5.00"), key="k")
    assert lc.spend(SUB, period="day").first_day == "2026-10-25"
    assert lc.spend(SUB, period="day").charges == 1
    assert (
        lc.spend(SUB, period="day", at=pendulum.datetime(2026, 10, 24, 12, tz="UTC")).charges == 0
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"period": "year"}, "period must be"),
        ({"period": "use"}, "period must be"),
        ({"access_code": "10658 001"}, "access_code"),
        ({"at": "2026-12-01"}, "at must be a datetime"),
    ],
)
def test_spend_refuses_bad_arguments(args: dict[str, object], message: str) -> None:
    lc = _world(MemoryStore(), pendulum.datetime(2026, 11, 10, 9, tz=ZONE))
    with pytest.raises(InvalidArgumentError, match=message):
        lc.spend(SUB, **args)  # type: ignore[arg-type]


actions = st.lists(
    st.tuples(
        st.sampled_from(["charge", "bill", "later", "stop"]),
        st.integers(0, 3),
        st.integers(1, 40),
    ),
    max_size=25,
)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@settings(max_examples=25, deadline=None)
@given(steps=actions)
def test_spend_ledger_always_equals_the_sum_of_the_charges(
    kind: str, steps: list[tuple[str, int, int]]
) -> None:
    """Whatever charges, billing passes, cancellations and days go by, each
    subscriber's spend in each month and access code is the sum of the charges
    recorded in it."""
    store = MemoryStore() if kind == "memory" else SQLiteStore(":memory:")
    lc = _world(store, pendulum.datetime(2026, 10, 31, 22, tz=ZONE))
    orders = [
        _subscribe(lc, SUB, "NEWS"),
        _subscribe(lc, SUB, "WEATHER"),
        _subscribe(lc, OTHER, "NEWS"),
        lc.request(OTHER, "JOKE", channel=Channel.WEB).id,
    ]
    clock = lc.clock
    # activated in October: November's pass charges them in one set-based write
    clock.set(pendulum.datetime(2026, 11, 1, 1, tz=ZONE))  # type: ignore[attr-defined]
    for n, (action, who, hours) in enumerate(steps):
        order = lc.get(orders[who])
        if action == "charge":
            if lc.may_charge(order.id, order.price).allowed:
                lc.record_charge(order.id, order.price, key=f"k{n}")
        elif action == "bill":
            local = clock.now().in_timezone(ZONE)
            lc.billing_run(dt.date(local.year, local.month, 1))
        elif action == "later":
            clock.advance(dt.timedelta(hours=hours * 7))  # type: ignore[attr-defined]
        else:
            lc.unsubscribe(order.id, channel=Channel.SMS)
    expected: dict[tuple[str, str, str], tuple[Decimal, int]] = defaultdict(lambda: (Decimal(0), 0))
    for oid in orders:
        order = lc.get(oid)
        for charge in lc.charges(oid):
            month = charge.at.in_timezone(ZONE).format("YYYY-MM")
            for code in (order.access_code, None):
                amount, count = expected[order.msisdn, month, code or ""]
                expected[order.msisdn, month, code or ""] = (amount + charge.amount, count + 1)
    for (msisdn, month, code), (amount, count) in expected.items():
        at = pendulum.parse(f"{month}-15T12:00:00+08:00")
        spend = lc.spend(msisdn, code or None, at=at)  # type: ignore[arg-type]
        assert (spend.amount, spend.charges) == (amount, count), (msisdn, month, code)
