"""China's 2025 version (CN25a–c) through the public API, on memory and SQLite: a
trial awaits its confirmation, each automatic monthly charge is announced 5 days
before it, an unsubscribe refunds the unused days; and the date switch (the 2011
rules before 30 April and 17 May 2025). The pure decisions are tested on plain
values at the end."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pendulum
import pytest

from tests.conftest import make_catalog
from vas_lifecycle import (
    Channel,
    ChargeRefusedError,
    Lifecycle,
    ManualClock,
    MemoryStore,
    NoticeKind,
    OrderState,
    Policy,
    ReasonCode,
    RecordingNotifier,
    Store,
)
from vas_lifecycle.charging import announce, announced, announcing, consent_covers
from vas_lifecycle.records import Charge
from vas_lifecycle.refunds import unused_part
from vas_lifecycle.testing import check_invariants

SUB = "13800138000"
SHANGHAI = "Asia/Shanghai"
CHINA = Policy.preset("china_mobile", on=dt.date(2026, 12, 6))


def _world(
    store: Store, start: pendulum.DateTime, policy: object = None
) -> tuple[Lifecycle, ManualClock]:
    clock = ManualClock(start)
    lc = Lifecycle(
        make_catalog(),
        policy=Policy.regime("china_mobile") if policy is None else policy,  # type: ignore[arg-type]
        clock=clock,
        store=store,
        notifier=RecordingNotifier(),
        rng=random.Random(7),
    )
    return lc, clock


def _yes(lc: Lifecycle, clock: ManualClock, code: str | None) -> None:
    clock.advance(dt.timedelta(seconds=30))
    lc.handle_sms(SUB, f"是 {code}", to="10086")


def _local(y: int, m: int, d: int, h: int = 10) -> pendulum.DateTime:
    return pendulum.datetime(y, m, d, h, tz=SHANGHAI)


def _subscribe(lc: Lifecycle, clock: ManualClock) -> str:
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    _yes(lc, clock, order.code)
    assert lc.get(order.id).state is OrderState.ACTIVE
    return order.id


def _daily(lc: Lifecycle, clock: ManualClock, until: pendulum.DateTime) -> None:
    """The worker runs every hour until ``until``."""
    while clock.now() < until:
        clock.advance(dt.timedelta(hours=1))
        lc.run_due()


# --- CN25a: a trial awaits its confirmation -------------------------------------------


def test_cn25a_a_trial_awaits_the_confirmation_and_starts_on_it(store: Store) -> None:
    lc, clock = _world(store, _local(2026, 11, 24))
    order = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    assert order.state is OrderState.AWAITING_CONFIRMATION and order.trial_ends_at is None
    (ask,) = lc.notices(order.id)
    assert (ask.kind, ask.rule) == (NoticeKind.TRIAL_REQUEST, "CN25a")
    for part in ("免费体验7天", "到期自动取消", f"是 {order.code}", "不回复视为不订购", "24小时"):
        assert part in ask.text, part
    clock.advance(dt.timedelta(hours=3))
    _yes(lc, clock, order.code)
    started = lc.get(order.id)
    assert started.state is OrderState.TRIAL
    assert started.consent_channel is Channel.SMS and started.activated_at is None
    assert started.trial_ends_at == clock.now().add(days=7)  # seven days from the yes
    assert [n.kind for n in lc.notices(order.id)] == [
        NoticeKind.TRIAL_REQUEST,
        NoticeKind.TRIAL_STARTED,
    ]
    _daily(lc, clock, clock.now().add(days=8))
    assert lc.get(order.id).state is OrderState.CANCELLED  # ends by itself, never charged
    assert lc.may_charge(order.id, 0).reason is ReasonCode.IN_TRIAL
    assert check_invariants(lc, settled=True) == []


def test_cn25a_silence_or_a_no_starts_no_trial(store: Store) -> None:
    lc, clock = _world(store, _local(2026, 11, 24))
    silent = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    other = lc.request("13900139000", "GAME1", channel=Channel.WEB)
    clock.advance(dt.timedelta(minutes=5))
    lc.handle_sms("13900139000", f"否 {other.code}", to="10086")
    _daily(lc, clock, clock.now().add(hours=25))
    assert lc.get(silent.id).state is OrderState.EXPIRED
    assert lc.get(other.id).state is OrderState.DECLINED
    for order_id in (silent.id, other.id):
        kinds = {n.kind for n in lc.notices(order_id)}
        assert NoticeKind.TRIAL_STARTED not in kinds and NoticeKind.TRIAL_ENDED not in kinds
    assert check_invariants(lc, settled=True) == []


def test_cn25a_before_30_april_2025_a_trial_starts_at_its_request(store: Store) -> None:
    lc, clock = _world(store, _local(2025, 4, 29))
    before = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    assert before.state is OrderState.TRIAL
    clock.set(_local(2025, 4, 30, 9))
    after = lc.request("13900139000", "MUSIC7", channel=Channel.WEB)
    assert after.state is OrderState.AWAITING_CONFIRMATION
    assert check_invariants(lc) == []


def test_cn25a_the_checker_flags_a_trial_started_without_a_confirmation() -> None:
    store = MemoryStore()
    old, _clock = _world(store, _local(2026, 11, 24), Policy.china_mobile())  # 2011 rules
    order = old.request(SUB, "MUSIC7", channel=Channel.WEB)
    assert order.state is OrderState.TRIAL
    now, _ = _world(store, _local(2026, 11, 24))  # read under the 2025 version
    found = check_invariants(now)
    assert [(v.invariant, v.order_id) for v in found] == [("CN25a", order.id)]


# --- CN25b: each automatic monthly charge announced 5 days before ---------------------


def test_cn25b_each_month_is_announced_five_days_before_its_charge(store: Store) -> None:
    lc, clock = _world(store, _local(2026, 10, 10))
    order_id = _subscribe(lc, clock)
    _daily(lc, clock, _local(2026, 11, 1, 1))
    notices = [n for n in lc.notices(order_id) if n.kind is NoticeKind.RENEWAL_NOTICE]
    assert len(notices) == 1
    (notice,) = notices
    assert notice.rule == "CN25b"
    assert "2026年11月1日" in notice.text and "5元/月" in notice.text and "TD" in notice.text
    local = notice.at.in_timezone(SHANGHAI)
    begins = _local(2026, 11, 1, 0)
    assert begins - dt.timedelta(days=7) <= notice.at <= begins - dt.timedelta(days=5)
    assert 8 <= local.hour < 22  # never in the quiet hours (C16)
    assert lc.get(order_id).notified == "2026-10..2026-11"
    summary = lc.billing_run(dt.date(2026, 11, 1))
    assert (summary.charged, summary.amount) == (1, Decimal("5.00"))
    assert check_invariants(lc) == []


def test_cn25b_a_month_not_announced_in_time_is_not_charged(store: Store) -> None:
    lc, clock = _world(store, _local(2026, 10, 10))
    order_id = _subscribe(lc, clock)
    clock.set(_local(2026, 10, 30))  # the worker was down through the notice window
    lc.run_due()
    assert lc.get(order_id).notified == "2026-10..2026-10"
    clock.set(_local(2026, 11, 1, 9))
    decision = lc.may_charge(order_id, "5", period_start=_local(2026, 11, 1, 0))
    assert (decision.allowed, decision.reason, decision.rule) == (
        False,
        ReasonCode.CHARGE_NOT_NOTIFIED,
        "CN25b",
    )
    with pytest.raises(ChargeRefusedError) as refused:
        lc.record_charge(order_id, "5", key="nov", period_start=_local(2026, 11, 1, 0))
    assert refused.value.rule == "CN25b"
    summary = lc.billing_run(dt.date(2026, 11, 1))
    assert summary.charged == 0 and summary.refused == {ReasonCode.CHARGE_NOT_NOTIFIED: 1}
    _daily(lc, clock, _local(2026, 12, 1, 1))  # December is announced in time again
    assert lc.get(order_id).notified == "2026-12..2026-12"
    assert lc.billing_run(dt.date(2026, 12, 1)).charged == 1
    assert check_invariants(lc) == []


def test_cn25b_a_consent_inside_the_notice_window_covers_the_next_month(store: Store) -> None:
    lc, clock = _world(store, _local(2026, 10, 28))
    order_id = _subscribe(lc, clock)
    assert lc.get(order_id).notified == "2026-10..2026-11"
    clock.set(_local(2026, 11, 1, 9))
    assert lc.billing_run(dt.date(2026, 11, 1)).charged == 1
    assert check_invariants(lc) == []


def test_cn25b_the_checker_flags_a_month_charged_without_its_notice() -> None:
    store = MemoryStore()
    old, clock = _world(store, _local(2026, 10, 10), Policy.china_mobile())
    order_id = _subscribe(old, clock)
    clock.set(_local(2026, 11, 1, 9))
    old.record_charge(order_id, "5", key="nov", period_start=_local(2026, 11, 1, 0))
    now, _ = _world(store, _local(2026, 11, 1, 9))
    found = check_invariants(now)
    assert [(v.invariant, v.order_id) for v in found] == [("CN25b", order_id)]


def test_cn25b_before_17_may_2025_nothing_is_announced_and_nothing_refused(store: Store) -> None:
    lc, clock = _world(store, _local(2025, 3, 10))
    order_id = _subscribe(lc, clock)
    _daily(lc, clock, _local(2025, 4, 1, 1))
    assert not [n for n in lc.notices(order_id) if n.kind is NoticeKind.RENEWAL_NOTICE]
    assert lc.billing_run(dt.date(2025, 4, 1)).charged == 1
    _daily(lc, clock, _local(2025, 6, 1, 1))  # the version of 17 May announces June
    assert lc.get(order_id).notified == "2025-06..2025-06"
    assert lc.billing_run(dt.date(2025, 6, 1)).charged == 1
    assert check_invariants(lc) == []


# --- CN25c: an unsubscribe refunds the unused days ------------------------------------


def test_cn25c_an_unsubscribe_makes_the_unused_days_due(store: Store) -> None:
    lc, clock = _world(store, _local(2026, 11, 20))
    order_id = _subscribe(lc, clock)
    _daily(lc, clock, _local(2026, 12, 1, 1))
    assert lc.billing_run(dt.date(2026, 12, 1)).charged == 1
    clock.set(_local(2026, 12, 10, 9))
    lc.unsubscribe(order_id, channel=Channel.SMS)  # 10 of December's 31 days used
    (due,) = lc.refunds_due()
    assert (due.rule, due.amount) == ("CN25c", Decimal("3.39"))  # 5 x 21/31
    assert due.charge_key == lc.charges(order_id)[-1].key
    refund = lc.refund(order_id, key="r1", reason="CN25c", amount=due.amount)
    assert refund.amount == Decimal("3.39")
    (notice,) = [n for n in lc.notices(order_id) if n.kind is NoticeKind.REFUNDED]
    assert notice.rule == "CN25c"
    assert "3.39元" in notice.text
    assert lc.refunds_due() == []
    assert check_invariants(lc) == []


def test_cn25c_before_17_may_2025_an_unsubscribe_claims_nothing(store: Store) -> None:
    lc, clock = _world(store, _local(2025, 5, 1))
    order_id = _subscribe(lc, clock)
    lc.record_charge(order_id, "5", key="may")
    clock.set(_local(2025, 5, 16, 9))
    lc.unsubscribe(order_id, channel=Channel.SMS)
    assert lc.refunds_due() == []
    assert check_invariants(lc) == []


# --- the pure decisions, on plain values ---------------------------------------------


def test_cn25b_the_notice_window_and_the_runs_of_announced_months() -> None:
    begins = _local(2026, 12, 1, 0)
    assert announcing(begins - dt.timedelta(days=7, seconds=1), CHINA) is None
    assert announcing(begins - dt.timedelta(days=6), CHINA) == ("2026-12", begins)
    assert announcing(begins - dt.timedelta(days=5), CHINA) == ("2026-12", begins)
    assert announcing(begins - dt.timedelta(days=5) + dt.timedelta(seconds=1), CHINA) is None
    assert announcing(begins, Policy.china_mobile()) is None  # no lead: no notices
    year_end = _local(2027, 1, 1, 0)
    assert announcing(year_end - dt.timedelta(days=6), CHINA) == ("2027-01", year_end)
    assert consent_covers(_local(2026, 11, 10), CHINA) == "2026-11..2026-11"
    assert consent_covers(_local(2026, 11, 25), CHINA) == "2026-11..2026-12"
    assert consent_covers(_local(2026, 12, 30), CHINA) == "2026-12..2027-01"
    assert announce(None, "2026-12") == "2026-12..2026-12"
    assert announce("2026-10..2026-11", "2026-12") == "2026-10..2026-12"
    assert announce("2026-10..2026-12", "2026-12") == "2026-10..2026-12"
    assert announce("2026-10..2026-10", "2026-12") == "2026-12..2026-12"  # November missed
    assert announce("2026-11..2026-12", "2027-01") == "2026-11..2027-01"
    assert announced("2026-10..2026-12", "2026-11")
    assert not announced("2026-12..2026-12", "2026-11")
    assert not announced(None, "2026-11")


def _charge(amount: str, key: str, at: pendulum.DateTime) -> Charge:
    return Charge("k", "o1", Decimal(amount), key, None, at, 3)


def test_cn25c_the_unused_part_of_a_charge_on_plain_values() -> None:
    month = _charge("5", "2026-12", _local(2026, 12, 1, 1))
    assert unused_part(month, _local(2026, 12, 10), CHINA) == Decimal("3.39")  # 21 of 31
    assert unused_part(month, _local(2026, 12, 31, 23), CHINA) == Decimal("0")  # last day
    assert unused_part(month, _local(2026, 11, 28), CHINA) == Decimal("5")  # not begun
    assert unused_part(month, _local(2027, 1, 2), CHINA) == Decimal("0")  # over
    # a first month charged from the day of the activation: its days from then on
    first = _charge("2.50", "2026-12", _local(2026, 12, 20))
    assert unused_part(first, _local(2026, 12, 25), CHINA) == Decimal("1.25")  # 6 of 12
    week = _charge("2", "2026-W49", _local(2026, 11, 30, 1))  # Monday 30 Nov
    assert unused_part(week, _local(2026, 12, 2), CHINA) == Decimal("1.14")  # 4 of 7
    assert unused_part(_charge("3", "use", _local(2026, 12, 2)), _local(2026, 12, 3), CHINA) == 0
