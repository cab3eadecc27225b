"""Spend reminders (UK2, AU2): where the policy sets a step, a subscriber is sent a
reminder each time their spend on one access code in a calendar month passes a
multiple of it, saying what was spent and how to stop; kept out of the quiet hours
(C16). None in the China preset."""

from __future__ import annotations

import contextlib
import datetime as dt
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
    ChargeRefusedError,
    Lifecycle,
    ManualClock,
    MemoryStore,
    Notice,
    NoticeKind,
    Policy,
    PolicyError,
    RecordingNotifier,
    SQLiteStore,
    Store,
)
from vas_lifecycle.testing import check_invariants

ZONE = "Asia/Shanghai"
SUB = "+8613800138000"
STEP = Policy.china_mobile(spend_reminder_every=Decimal("10.00"))


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], Store]]:
    yield from store_factories(request.param, "vas_test_reminders")


def _world(store: Store, policy: Policy = STEP) -> tuple[Lifecycle, ManualClock, RecordingNotifier]:
    clock, notifier = ManualClock(pendulum.datetime(2026, 11, 10, 9, tz=ZONE)), RecordingNotifier()
    lc = Lifecycle(make_catalog(), clock=clock, store=store, policy=policy, notifier=notifier)
    return lc, clock, notifier


def _reminders(lc: Lifecycle, order_ids: list[str]) -> list[Notice]:
    found = [n for oid in order_ids for n in lc.notices(oid)]
    return [n for n in found if n.kind is NoticeKind.SPEND_REMINDER]


def _jokes(lc: Lifecycle, clock: ManualClock, count: int, tag: str) -> list[str]:
    """``count`` on-demand JOKE orders (1.00 each, access code 10658001), charged."""
    ids = []
    for n in range(count):
        order = lc.request(SUB, "JOKE", channel=Channel.WEB)
        lc.record_charge(order.id, order.price, key=f"{tag}{n}")
        clock.advance(dt.timedelta(minutes=1))
        ids.append(order.id)
    return ids


def test_uk2_a_reminder_each_time_the_months_spend_passes_a_step(
    make_store: Callable[[], Store],
) -> None:
    lc, clock, _ = _world(make_store())
    first = _jokes(lc, clock, 9, "a")
    assert _reminders(lc, first) == []  # 9.00: under the step
    tenth = _jokes(lc, clock, 1, "b")
    (reminder,) = _reminders(lc, first + tenth)
    assert reminder.order_id == tenth[0]
    for part in ("10元", "2026-11", "10658001", "TD"):
        assert part in reminder.text, part
    more = _jokes(lc, clock, 9, "c")
    assert len(_reminders(lc, first + tenth + more)) == 1  # 19.00: the next step is 20
    twentieth = _jokes(lc, clock, 1, "d")
    assert len(_reminders(lc, twentieth)) == 1
    # a new calendar month in Shanghai starts from nothing
    clock.set(pendulum.datetime(2026, 12, 1, 8, 30, tz=ZONE))
    december = _jokes(lc, clock, 9, "e")
    assert _reminders(lc, december) == []
    assert check_invariants(lc) == []


def test_uk2_the_billing_pass_sends_the_reminders_its_charges_call_for(
    make_store: Callable[[], Store],
) -> None:
    lc, clock, _ = _world(make_store())
    orders = []
    for code in ("NEWS", "WEATHER"):  # 5.00 and 3.00 a month, one access code
        order = lc.request(SUB, code, channel=Channel.WEB)
        clock.advance(dt.timedelta(seconds=30))
        lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
        orders.append(order.id)
    clock.set(pendulum.datetime(2026, 12, 1, 8, 30, tz=ZONE))
    jokes = _jokes(lc, clock, 2, "j")  # 2.00 so far in December
    assert lc.billing_run(dt.date(2026, 12, 1)).charged == 2  # 10.00: the step
    assert len(_reminders(lc, orders + jokes)) == 1
    assert lc.spend(SUB).amount == Decimal("10.00")


def test_uk2_spend_reminders_keep_out_of_the_quiet_hours(make_store: Callable[[], Store]) -> None:
    lc, clock, notifier = _world(make_store())
    clock.set(pendulum.datetime(2026, 11, 10, 23, 0, tz=ZONE))
    ids = _jokes(lc, clock, 10, "n")
    (reminder,) = _reminders(lc, ids)
    assert reminder.id not in {n.id for n in notifier.sent}  # held for the morning
    clock.set(pendulum.datetime(2026, 11, 11, 8, 1, tz=ZONE))
    lc.dispatch()
    assert reminder.id in {n.id for n in notifier.sent}


def test_uk2_the_china_preset_sends_no_spend_reminder(make_store: Callable[[], Store]) -> None:
    lc, clock, _ = _world(make_store(), Policy.china_mobile())
    assert _reminders(lc, _jokes(lc, clock, 12, "x")) == []


def test_uk2_a_step_must_be_a_positive_amount() -> None:
    with pytest.raises(PolicyError, match="spend_reminder_every"):
        Policy.china_mobile(spend_reminder_every=Decimal("0"))


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@settings(max_examples=20, deadline=None)
@given(st.lists(st.sampled_from(["joke", "later"]), max_size=40))
def test_uk2_every_sequence_sends_one_reminder_per_step_passed(kind: str, steps: list[str]) -> None:
    store = MemoryStore() if kind == "memory" else SQLiteStore(":memory:")
    policy = Policy.china_mobile(spend_reminder_every=Decimal("3.00"))
    lc, clock, _ = _world(store, policy)
    ids: list[str] = []
    for n, step in enumerate(steps):
        if step == "joke":
            with contextlib.suppress(ChargeRefusedError):
                ids += _jokes(lc, clock, 1, f"k{n}")
        else:
            clock.advance(dt.timedelta(days=6))
    by_month: dict[str, int] = {}
    for reminder in _reminders(lc, ids):
        month = reminder.at.in_timezone(ZONE).format("YYYY-MM")
        by_month[month] = by_month.get(month, 0) + 1
    months = {lc.get(i).requested_at.in_timezone(ZONE).format("YYYY-MM") for i in ids}
    for month in months:
        spent = lc.spend(SUB, at=pendulum.parse(f"{month}-15T12:00:00+08:00")).amount  # type: ignore[arg-type]
        assert by_month.get(month, 0) == int(spent // Decimal("3.00")), month


INTERVAL = Policy.china_mobile(
    spend_reminder_every=Decimal("20.00"), spend_reminder_interval=dt.timedelta(days=30)
)


def _subscribed(lc: Lifecycle, clock: ManualClock, service: str = "NEWS") -> str:
    order = lc.request(SUB, service, channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=30))
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    return order.id


def test_uk2_a_reminder_at_least_every_interval_while_a_paid_subscription_is_live(
    make_store: Callable[[], Store],
) -> None:
    """UK2's "monthly or every £20, whichever comes first" (AU2: every 30 days when
    the spend is not reached): under the step, a reminder still goes out each interval
    after the activation, saying what was spent this month and how to stop; none once
    nothing paid is live on the access code."""
    lc, clock, _notifier = _world(make_store(), INTERVAL)
    news = _subscribed(lc, clock)
    lc.record_charge(news, Decimal("5.00"), key="nov")
    clock.advance(dt.timedelta(days=29))
    lc.run_due()
    assert _reminders(lc, [news]) == []
    clock.advance(dt.timedelta(days=1, seconds=1))  # more than the interval
    lc.run_due()
    (first,) = _reminders(lc, [news])
    assert "10658001" in first.text and "TD" in first.text
    assert "0元" in first.text  # December so far: nothing yet
    lc.run_due()  # not twice for one interval
    assert len(_reminders(lc, [news])) == 1
    clock.advance(dt.timedelta(days=30, seconds=1))
    lc.run_due()
    assert len(_reminders(lc, [news])) == 2
    lc.unsubscribe(news, channel=Channel.SMS)
    clock.advance(dt.timedelta(days=31))
    lc.run_due()
    assert len(_reminders(lc, [news])) == 2
    assert check_invariants(lc, settled=True) == []


def test_uk2_a_step_passed_starts_the_interval_again_whichever_comes_first() -> None:
    lc, clock, _notifier = _world(MemoryStore(), INTERVAL)
    news = _subscribed(lc, clock)
    clock.advance(dt.timedelta(days=10))
    jokes = _jokes(lc, clock, 20, "a")  # 20.00 on the same access code: the step
    assert len(_reminders(lc, jokes)) == 1
    clock.advance(dt.timedelta(days=25))  # 35 days after the activation, 25 after it
    lc.run_due()
    assert _reminders(lc, [news]) == []
    clock.advance(dt.timedelta(days=5, seconds=1))
    lc.run_due()
    assert len(_reminders(lc, [news])) == 1


def test_uk2_no_interval_reminder_in_the_china_preset_or_on_another_access_code() -> None:
    lc, clock, _notifier = _world(MemoryStore(), Policy.china_mobile())
    news = _subscribed(lc, clock)
    clock.advance(dt.timedelta(days=100))
    lc.run_due()
    assert _reminders(lc, [news]) == []
    other, clock2, _n = _world(MemoryStore(), INTERVAL)
    trial = other.request(SUB, "MUSIC7", channel=Channel.WEB).id  # free: never reminded
    clock2.advance(dt.timedelta(days=60))
    other.run_due()
    assert _reminders(other, [trial]) == []
