"""C5 (fee notices), C11 (the charging guard), C12 (frozen tariff), C15 (first period)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import SUB, make_catalog
from vas_lifecycle import (
    Channel,
    ChargeRefusedError,
    FirstPeriodRule,
    IdempotencyKeyError,
    Lifecycle,
    ManualClock,
    NoticeKind,
    OfferKind,
    Order,
    OrderState,
    Policy,
    ReasonCode,
    RecordingNotifier,
    Service,
)

FIVE = Decimal("5.00")


def active_order(lc: Lifecycle, clock: ManualClock, code: str = "NEWS") -> Order:
    order = lc.request(SUB, code, channel=Channel.SP_API)
    clock.advance(dt.timedelta(seconds=10))
    return lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)


# --- C5 ------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", [Channel.WEB, Channel.WAP])
def test_c5_web_on_demand_gets_fee_notice_every_time(
    lc: Lifecycle, notifier: RecordingNotifier, channel: Channel
) -> None:
    orders = [lc.request(SUB, "JOKE", channel=channel) for _ in range(3)]
    notices = notifier.of_kind(NoticeKind.FEE_NOTICE)
    assert len(notices) == 3
    assert [o.fee_notice_id for o in orders] == [n.id for n in notices]
    assert all("笑话点播" in n.text and "1元/次" in n.text for n in notices)
    assert all(o.state is OrderState.COMPLETED for o in orders)


def test_c5_sms_on_demand_gets_fee_notice_once_a_day(
    lc: Lifecycle, clock: ManualClock, notifier: RecordingNotifier
) -> None:
    first = lc.request(SUB, "JOKE", channel=Channel.SMS)
    clock.advance(dt.timedelta(hours=3))
    second = lc.request(SUB, "JOKE", channel=Channel.SMS)
    assert len(notifier.of_kind(NoticeKind.FEE_NOTICE)) == 1
    assert second.fee_notice_id == first.fee_notice_id  # the day's notice is its evidence
    assert lc.may_charge(second.id, Decimal("1.00")).allowed
    # a new calendar day in Asia/Shanghai (09:00 + 3h + 12h = 00:00 next day)
    clock.advance(dt.timedelta(hours=12))
    third = lc.request(SUB, "JOKE", channel=Channel.SMS)
    assert len(notifier.of_kind(NoticeKind.FEE_NOTICE)) == 2
    assert third.fee_notice_id != first.fee_notice_id


def test_c5_one_charge_for_an_on_demand_order(lc: Lifecycle) -> None:
    order = lc.request(SUB, "JOKE", channel=Channel.WEB)
    assert lc.may_charge(order.id, Decimal("1.00")).allowed
    lc.record_charge(order.id, Decimal("1.00"), key="joke-1")
    decision = lc.may_charge(order.id, Decimal("1.00"))
    assert not decision.allowed and decision.reason is ReasonCode.ALREADY_CHARGED


# --- C11 -----------------------------------------------------------------------------


def test_c11_active_order_may_be_charged_once_per_period(lc: Lifecycle, clock: ManualClock) -> None:
    order = active_order(lc, clock)
    decision = lc.may_charge(order.id, FIVE)
    assert decision.allowed and decision.reason is ReasonCode.ALLOWED
    charge = lc.record_charge(order.id, FIVE, key="nov")
    assert charge.period_key == "2026-11" and charge.order_version == order.version
    again = lc.may_charge(order.id, FIVE)
    assert not again.allowed and again.reason is ReasonCode.DUPLICATE_PERIOD
    with pytest.raises(ChargeRefusedError) as err:
        lc.record_charge(order.id, FIVE, key="nov-again")
    assert err.value.reason is ReasonCode.DUPLICATE_PERIOD
    clock.set(pendulum.datetime(2026, 12, 1, 0, 30, tz="Asia/Shanghai"))
    december = pendulum.datetime(2026, 12, 1, tz="Asia/Shanghai")
    assert lc.may_charge(order.id, FIVE, period_start=december).allowed


def test_c11_charge_is_idempotent_by_key(lc: Lifecycle, clock: ManualClock) -> None:
    order = active_order(lc, clock)
    first = lc.record_charge(order.id, FIVE, key="bill-42")
    assert lc.record_charge(order.id, FIVE, key="bill-42") == first
    assert lc.charges(order.id) == [first]
    with pytest.raises(IdempotencyKeyError):
        lc.record_charge(order.id, Decimal("4.00"), key="bill-42")


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("awaiting", ReasonCode.AWAITING_CONFIRMATION),
        ("trial", ReasonCode.IN_TRIAL),
        ("cancelled", ReasonCode.NOT_ACTIVE),
        ("declined", ReasonCode.NOT_ACTIVE),
        ("wrong_amount", ReasonCode.AMOUNT_MISMATCH),
        ("future_period", ReasonCode.PERIOD_NOT_STARTED),
        ("before_activation", ReasonCode.PERIOD_BEFORE_ACTIVATION),
        ("after_cancellation", ReasonCode.AFTER_CANCELLATION),
    ],
)
def test_c11_refusals_carry_a_reason(
    lc: Lifecycle, clock: ManualClock, setup: str, reason: ReasonCode
) -> None:
    amount = FIVE
    period_start: dt.datetime | None = None
    if setup == "awaiting":
        order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    elif setup == "trial":
        order = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
        amount = Decimal("0")
    elif setup == "cancelled":
        order = active_order(lc, clock)
        lc.unsubscribe(order.id, channel=Channel.HOTLINE)
    elif setup == "declined":
        order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
        lc.decline(order.id, msisdn=SUB, channel=Channel.SMS)
    elif setup == "wrong_amount":
        order = active_order(lc, clock)
        amount = Decimal("6.00")
    elif setup == "future_period":
        order = active_order(lc, clock)
        period_start = pendulum.datetime(2026, 12, 1, tz="Asia/Shanghai")
    elif setup == "before_activation":
        order = active_order(lc, clock)
        period_start = pendulum.datetime(2026, 10, 1, tz="Asia/Shanghai")
    else:
        order = active_order(lc, clock)
        lc.unsubscribe(order.id, channel=Channel.SMS)
        clock.advance(dt.timedelta(days=10))
        period_start = pendulum.datetime(2026, 12, 1, tz="Asia/Shanghai")
    decision = lc.may_charge(order.id, amount, period_start=period_start)
    assert not decision.allowed and decision.reason is reason
    with pytest.raises(ChargeRefusedError) as err:
        lc.record_charge(order.id, amount, key="k", period_start=period_start)
    assert err.value.reason is reason
    assert lc.charges(order.id) == []


@given(
    steps=st.lists(
        st.sampled_from(["advance_day", "advance_month", "charge", "unsubscribe", "run_due"]),
        max_size=20,
    )
)
def test_c11_every_sequence_charges_only_active_orders_once_per_period(steps: list[str]) -> None:
    clock = ManualClock(pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai"))
    lc = Lifecycle(make_catalog(), clock=clock, notifier=RecordingNotifier())
    order = active_order(lc, clock)
    charged: set[str] = set()
    for n, step in enumerate(steps):
        if step == "advance_day":
            clock.advance(dt.timedelta(days=1))
        elif step == "advance_month":
            clock.advance(pendulum.duration(months=1))
        elif step == "unsubscribe":
            lc.unsubscribe(order.id, channel=Channel.SMS)
        elif step == "run_due":
            lc.run_due()
        else:
            state = lc.get(order.id).state
            decision = lc.may_charge(order.id, FIVE)
            if decision.allowed:
                charge = lc.record_charge(order.id, FIVE, key=f"k{n}")
                assert state is OrderState.ACTIVE
                assert charge.period_key not in charged
                charged.add(charge.period_key)
            else:
                assert (
                    state is not OrderState.ACTIVE or decision.reason is ReasonCode.DUPLICATE_PERIOD
                )


# --- C12 -----------------------------------------------------------------------------


def test_c12_catalog_change_does_not_alter_existing_orders(
    lc: Lifecycle, clock: ManualClock, notifier: RecordingNotifier
) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    lc.catalog.put(
        Service(
            code="NEWS",
            sp_id="SP01",
            sp_name="星辰科技",
            name="新闻早报（升级版）",
            kind=OfferKind.SUBSCRIPTION,
            price=Decimal("8.00"),
            access_code="10658001",
        )
    )
    clock.advance(dt.timedelta(seconds=5))
    active = lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    assert (active.service_name, active.price) == ("新闻早报", FIVE)
    (activated,) = notifier.of_kind(NoticeKind.ACTIVATED)
    assert "新闻早报" in activated.text and "升级版" not in activated.text
    assert "5元/月" in activated.text
    risen = lc.may_charge(order.id, Decimal("8.00"))
    assert not risen.allowed and risen.reason is ReasonCode.AMOUNT_MISMATCH
    assert risen.expected_amount == FIVE
    assert lc.may_charge(order.id, FIVE).allowed
    # a new order sees the new tariff and needs its own confirmation
    lc.unsubscribe(order.id, channel=Channel.SMS)
    new = lc.request(SUB, "NEWS", channel=Channel.WEB)
    assert new.price == Decimal("8.00") and new.state is OrderState.AWAITING_CONFIRMATION


# --- C15 -----------------------------------------------------------------------------


def test_c15_first_period_charged_in_full_by_default(lc: Lifecycle, clock: ManualClock) -> None:
    clock.set(pendulum.datetime(2026, 11, 25, 9, tz="Asia/Shanghai"))
    order = active_order(lc, clock)
    assert lc.may_charge(order.id, FIVE).allowed
    assert not lc.may_charge(order.id, Decimal("2.50")).allowed


@pytest.mark.parametrize(
    ("day", "expected"),
    [(1, "5.00"), (16, "5.00"), (17, "2.50"), (30, "2.50")],
)
def test_c15_half_month_rule(day: int, expected: str) -> None:
    clock = ManualClock(pendulum.datetime(2026, 11, day, 9, tz="Asia/Shanghai"))
    policy = Policy.china_mobile(first_period=FirstPeriodRule.HALF_IF_LATE)
    lc = Lifecycle(make_catalog(), policy=policy, clock=clock, notifier=RecordingNotifier())
    order = active_order(lc, clock)
    decision = lc.may_charge(order.id, Decimal(expected))
    assert decision.allowed, decision
    assert decision.expected_amount == Decimal(expected)
    # November has 30 days: on the 16th 15 days are left (full), on the 17th 14 (half)
    clock.set(pendulum.datetime(2026, 12, 1, 1, tz="Asia/Shanghai"))
    assert lc.may_charge(order.id, FIVE).allowed  # later periods are always in full
