"""The billing pass (issue 17): C11, C12 and C15 for every subscription at once, each
order and period charged once however often the pass runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pendulum
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import CATALOG_TOML
from tests.test_store_postgres import store_factories
from vas_lifecycle import (
    BillingSummary,
    Catalog,
    Channel,
    FirstPeriodRule,
    InvalidArgumentError,
    Lifecycle,
    ManualClock,
    MemoryStore,
    OfferKind,
    Order,
    Policy,
    ReasonCode,
    RecordingNotifier,
    Service,
    SQLiteStore,
    Store,
    VasError,
)
from vas_lifecycle.catalog import Period
from vas_lifecycle.charging import billing_key, billing_period, decide_period
from vas_lifecycle.cli import main
from vas_lifecycle.testing import demo_catalog

ZONE = "Asia/Shanghai"
#: 2026-11-10 09:00 in Shanghai: 21 days left in November, so a full first month
EARLY = pendulum.datetime(2026, 11, 10, 9, 0, tz=ZONE)
DECEMBER = dt.date(2026, 12, 1)
NOVEMBER = dt.date(2026, 11, 1)
SUB = "+8613800138000"


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], Store]]:
    yield from store_factories(request.param, "vas_test_billing")


#: C15's proration rule (the China preset charges a first month in full)
HALF = Policy.china_mobile(first_period=FirstPeriodRule.HALF_IF_LATE)


def lifecycle(store: Store, clock: ManualClock, policy: Policy | None = None) -> Lifecycle:
    return Lifecycle(
        demo_catalog(), policy=policy, clock=clock, store=store, notifier=RecordingNotifier()
    )


def subscribe(
    lc: Lifecycle, clock: ManualClock, count: int, code: str = "NEWS", first: int = 0
) -> list[Order]:
    """``count`` subscribers from number ``first`` on, each confirming ``code`` (one
    request each: C13's daily limit)."""
    numbers = [f"+861380013{n:04d}" for n in range(first, first + count)]
    orders = [lc.request(number, code, channel=Channel.SP_API) for number in numbers]
    clock.advance(dt.timedelta(seconds=30))
    return [
        lc.confirm(o.id, msisdn=number, channel=Channel.SMS)
        for o, number in zip(orders, numbers, strict=True)
    ]


def all_charges(lc: Lifecycle, orders: list[Order]) -> list[tuple[str, str, Decimal]]:
    return sorted((c.order_id, c.period_key, c.amount) for o in orders for c in lc.charges(o.id))


def test_c11_billing_run_charges_every_active_subscription_once(
    make_store: Callable[[], Store],
) -> None:
    clock = ManualClock(EARLY)
    lc = lifecycle(make_store(), clock)
    active = subscribe(lc, clock, 5)
    weather = subscribe(lc, clock, 2, "WEATHER", first=10)
    pending = lc.request("+8613900139001", "NEWS", channel=Channel.SP_API)
    cancelled = subscribe(lc, clock, 1, first=20)[0]
    lc.unsubscribe(cancelled.id, channel=Channel.HOTLINE)
    trial = lc.request("+8613900139002", "MUSIC7", channel=Channel.WAP)
    clock.advance(dt.timedelta(days=21))  # 2026-12-01 09:00
    summary = lc.billing_run(DECEMBER)
    assert summary == BillingSummary("2026-12", 7, Decimal("31.00"), {})
    charged = all_charges(lc, [*active, *weather, pending, cancelled, trial])
    assert charged == sorted(
        [(o.id, "2026-12", Decimal("5.00")) for o in active]
        + [(o.id, "2026-12", Decimal("3.00")) for o in weather]
    )
    assert {c.key for o in active for c in lc.charges(o.id)} == {
        billing_key(o.id, "2026-12") for o in active
    }
    # a second pass, and a caller asking for the same period, find it charged
    assert lc.billing_run(DECEMBER) == BillingSummary("2026-12", 0, Decimal(0), {})
    decision = lc.may_charge(active[0].id, Decimal("5.00"), period_start=clock.now())
    assert decision.reason is ReasonCode.DUPLICATE_PERIOD
    assert all_charges(lc, [*active, *weather]) == charged


def test_c15_billing_run_charges_a_late_first_month_half(make_store: Callable[[], Store]) -> None:
    clock = ManualClock(pendulum.datetime(2026, 11, 24, 9, 0, tz=ZONE))  # 7 days left
    lc = lifecycle(make_store(), clock, HALF)
    orders = subscribe(lc, clock, 2)
    summary = lc.billing_run(NOVEMBER)
    assert (summary.charged, summary.amount) == (2, Decimal("5.00"))
    assert {c.amount for o in orders for c in lc.charges(o.id)} == {Decimal("2.50")}
    clock.advance(dt.timedelta(days=7))
    assert lc.billing_run(DECEMBER).amount == Decimal("10.00")


def test_c11_billing_run_counts_what_it_may_not_charge(make_store: Callable[[], Store]) -> None:
    clock = ManualClock(EARLY)
    lc = lifecycle(make_store(), clock)
    old = subscribe(lc, clock, 2)
    clock.advance(dt.timedelta(days=21))  # December
    late = lc.request("+8613900139003", "NEWS", channel=Channel.SP_API)
    clock.advance(dt.timedelta(seconds=30))
    lc.confirm(late.id, msisdn="+8613900139003", channel=Channel.SMS)
    # October: nobody was active yet; January has not begun
    october = lc.billing_run(dt.date(2026, 10, 1))
    assert october.charged == 0
    assert october.refused == {ReasonCode.PERIOD_BEFORE_ACTIVATION: 3}
    january = lc.billing_run(dt.date(2027, 1, 1))
    assert january.refused == {ReasonCode.PERIOD_NOT_STARTED: 3}
    # a charge the backend recorded itself is the period's charge: never a second
    lc.record_charge(old[0].id, "5.00", key="own-1", period_start=clock.now())
    december = lc.billing_run(DECEMBER)
    assert (december.charged, december.amount) == (2, Decimal("10.00"))
    assert [c.key for c in lc.charges(old[0].id)] == ["own-1"]


def test_billing_run_in_small_batches_reports_progress(make_store: Callable[[], Store]) -> None:
    clock = ManualClock(EARLY)
    lc = lifecycle(make_store(), clock)
    orders = subscribe(lc, clock, 5)
    clock.advance(dt.timedelta(days=21))
    seen: list[BillingSummary] = []
    summary = lc.billing_run(DECEMBER, batch=2, progress=seen.append)
    assert [s.charged for s in seen] == [2, 4, 5]
    assert summary == seen[-1] and summary.charged == 5
    assert len(all_charges(lc, orders)) == 5


def test_billing_run_per_week_and_day() -> None:
    weekly = Service(
        code="W",
        sp_id="SP09",
        sp_name="周刊",
        name="周报",
        kind=OfferKind.SUBSCRIPTION,
        price=Decimal("2.00"),
        period=Period.WEEK,
        access_code="10658009",
    )
    clock = ManualClock(pendulum.datetime(2026, 11, 30, 9, 0, tz=ZONE))  # a Monday
    lc = Lifecycle(Catalog([weekly]), clock=clock, notifier=RecordingNotifier())
    order = lc.request(SUB, "W", channel=Channel.SP_API)
    clock.advance(dt.timedelta(seconds=30))
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    assert lc.billing_run(dt.date(2026, 11, 30), period="week").charged == 1
    assert [c.period_key for c in lc.charges(order.id)] == ["2026-W49"]
    assert lc.billing_run(NOVEMBER).charged == 0  # none sold per month
    assert lc.billing_run(dt.date(2026, 11, 30), period=Period.DAY).charged == 0
    with pytest.raises(InvalidArgumentError, match="not the start of a week"):
        lc.billing_run(dt.date(2026, 12, 1), period="week")  # a Tuesday


@pytest.mark.parametrize(
    ("start", "period", "message"),
    [
        (dt.date(2026, 12, 2), "month", "not the start of a month"),
        (dt.datetime(2026, 12, 1), "month", "naive"),  # noqa: DTZ001 - the point
        (pendulum.datetime(2026, 12, 1, tz="UTC"), "month", "not the start of a month"),
        (DECEMBER, "use", "period must be month, week or day"),
        (DECEMBER, "fortnight", "period must be month, week or day"),
        ("2026-12", "month", "must be a datetime"),
        (dt.date(1900, 1, 1), "month", "outside the years"),
    ],
)
def test_billing_run_refuses_a_period_that_is_not_one(
    start: object, period: str, message: str
) -> None:
    lc = Lifecycle(demo_catalog(), clock=ManualClock(EARLY))
    with pytest.raises(VasError, match=message):
        lc.billing_run(start, period=period)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="batch"):
        lc.billing_run(DECEMBER, batch=0)


def test_decide_period_on_plain_values() -> None:
    """The pure decision the pass asks for each order, and the period it bills."""
    policy = HALF
    clock = ManualClock(pendulum.datetime(2026, 11, 20, 9, 0, tz=ZONE))
    lc = lifecycle(MemoryStore(), clock, policy)
    order = subscribe(lc, clock, 1)[0]
    start = pendulum.datetime(2026, 11, 1, tz=ZONE)
    now = pendulum.datetime(2026, 12, 3, tz="UTC")
    decision = decide_period(order, period_start=start, now=now, charges=(), policy=policy)
    assert (decision.allowed, decision.expected_amount) == (True, Decimal("2.50"))  # 11 left
    later = decide_period(
        order, period_start=start.add(months=1), now=now, charges=(), policy=policy
    )
    assert later.expected_amount == Decimal("5.00")
    found = billing_period(Period.MONTH, start, policy)
    assert found is not None and (found.key, found.start) == ("2026-11", start.in_tz("UTC"))
    assert billing_period(Period.MONTH, start.add(hours=1), policy) is None
    assert billing_period(Period.DAY, start.add(days=3), policy) is not None
    assert billing_period(Period.USE, start, policy) is None


def test_bill_command_bills_a_month_once(tmp_path: Path) -> None:
    db = tmp_path / "vas.db"
    clock = ManualClock(EARLY)
    orders = subscribe(lifecycle(SQLiteStore(db), clock), clock, 3)
    command = ["bill", "--period", "2026-11", "--db", str(db), "--catalog", str(CATALOG_TOML)]
    first = CliRunner().invoke(main, command)
    assert first.exit_code == 0, first.output
    assert "Billed 2026-11: 3 charged, 15.00 in all" in first.output
    again = CliRunner().invoke(main, command)
    assert "Billed 2026-11: 0 charged" in again.output
    lc = lifecycle(SQLiteStore(db), clock)
    assert [len(lc.charges(o.id)) for o in orders] == [1, 1, 1]


@pytest.mark.parametrize("period", ["2026-13", "2026-W60", "2026-12-32", "december", "2026-1"])
def test_bill_command_refuses_a_period_it_cannot_read(tmp_path: Path, period: str) -> None:
    db = tmp_path / "vas.db"
    SQLiteStore(db).close()
    result = CliRunner().invoke(
        main, ["bill", "--period", period, "--db", str(db), "--catalog", str(CATALOG_TOML)]
    )
    assert result.exit_code == 2
    assert "--period must be a month (2026-12)" in result.output


KINDS = ["active", "active", "cancelled", "trial", "pending", "weather"]


@settings(max_examples=60)
@given(
    population=st.lists(
        st.tuples(st.integers(min_value=1, max_value=4 * 24), st.sampled_from(KINDS)),
        min_size=1,
        max_size=10,
    ),
    month=st.sampled_from([dt.date(2026, 10, 1), NOVEMBER, DECEMBER, dt.date(2027, 1, 1)]),
    store=st.sampled_from(["memory", "sqlite"]),
    listening=st.booleans(),
    half=st.booleans(),
)
def test_c11_every_billing_run_charges_exactly_what_decide_period_allows(
    population: list[tuple[int, str]], month: dt.date, store: str, listening: bool, half: bool
) -> None:
    """Whichever way a store charges an order (set-based for the plain ones, one by
    one while the feed has subscribers), each is charged what the pure decision
    allows for the period, at its amount, and nothing else."""
    clock = ManualClock(pendulum.datetime(2026, 10, 20, 9, tz=ZONE))
    policy = HALF if half else Policy.china_mobile()
    lc = lifecycle(MemoryStore() if store == "memory" else SQLiteStore(":memory:"), clock, policy)
    if listening:
        lc.feed.subscribe("billing", lambda event: None)
    orders = []
    for n, (hours, kind) in enumerate(population):
        clock.advance(dt.timedelta(hours=hours))
        number = f"+861380013{n:04d}"
        code = {"trial": "MUSIC7", "weather": "WEATHER"}.get(kind, "NEWS")
        order = lc.request(number, code, channel=Channel.SP_API)
        if kind in ("active", "cancelled", "weather"):
            clock.advance(dt.timedelta(seconds=30))
            lc.confirm(order.id, msisdn=number, channel=Channel.SMS)
        if kind == "cancelled":
            lc.unsubscribe(order.id, channel=Channel.HOTLINE)
        orders.append(order.id)
    clock.set(pendulum.datetime(2026, 12, 5, 9, tz=ZONE))
    summary = lc.billing_run(month, batch=3)
    start = pendulum.datetime(month.year, month.month, 1, tz=ZONE)
    expected = {}
    for order_id in orders:
        decision = decide_period(
            lc.get(order_id), period_start=start, now=clock.now(), charges=(), policy=policy
        )
        if decision.allowed:
            expected[order_id] = decision.expected_amount
    charged = {c.order_id: c.amount for o in orders for c in lc.charges(o)}
    assert charged == expected
    assert (summary.charged, summary.amount) == (len(expected), sum(expected.values(), Decimal(0)))
