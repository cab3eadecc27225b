"""C6 (free trials) and C7 (unsubscribing always works)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import SUB, make_catalog
from vas_lifecycle import (
    Catalog,
    Channel,
    Lifecycle,
    ManualClock,
    NoticeKind,
    OfferKind,
    OrderState,
    Policy,
    PolicyError,
    RecordingNotifier,
    Service,
)
from vas_lifecycle.testing import check_invariants, strategies

# --- C6 ------------------------------------------------------------------------------


def test_c6_trial_is_announced_reminded_and_ended(
    lc: Lifecycle, clock: ManualClock, notifier: RecordingNotifier
) -> None:
    start = clock.now()
    trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    assert trial.state is OrderState.TRIAL
    assert trial.trial_ends_at == start + dt.timedelta(days=7)
    (started,) = notifier.of_kind(NoticeKind.TRIAL_STARTED)
    assert started.at == start
    for part in ("彩铃体验", "免费", "自动取消", "2026年12月1日09:00", "TD", "使用方法"):
        assert part in started.text, part

    clock.advance(dt.timedelta(days=4, hours=23))  # 49 h before the end: not yet
    assert lc.run_due() == 0
    clock.advance(dt.timedelta(hours=1))  # exactly 48 h before the end
    assert lc.run_due() == 1
    assert lc.get(trial.id).state is OrderState.TRIAL_EXPIRING
    (reminder,) = notifier.of_kind(NoticeKind.TRIAL_REMINDER)
    assert "2026年12月1日09:00" in reminder.text and "自动取消" in reminder.text

    clock.advance(dt.timedelta(days=2))
    assert lc.run_due() == 1
    ended = lc.get(trial.id)
    assert ended.state is OrderState.CANCELLED and ended.end_reason == "trial_ended"
    assert len(notifier.of_kind(NoticeKind.TRIAL_ENDED)) == 1
    assert lc.charges(trial.id) == []
    assert not lc.may_charge(trial.id, Decimal("0")).allowed
    assert check_invariants(lc, settled=True, delivered=notifier.sent) == []


def test_c6_short_trial_is_reminded_at_its_midpoint(
    lc: Lifecycle, clock: ManualClock, notifier: RecordingNotifier
) -> None:
    trial = lc.request(SUB, "GAME1", channel=Channel.WEB)  # 1 day < 48 h lead
    assert trial.remind_at == clock.now() + dt.timedelta(hours=12)
    clock.advance(dt.timedelta(hours=12))
    lc.run_due()
    assert len(notifier.of_kind(NoticeKind.TRIAL_REMINDER)) == 1


def test_c6_trial_never_turns_into_a_paid_subscription(lc: Lifecycle, clock: ManualClock) -> None:
    trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    clock.advance(dt.timedelta(days=30))
    lc.run_due()
    assert lc.get(trial.id).state is OrderState.CANCELLED
    assert all(o.kind is OfferKind.TRIAL for o in lc.orders_of(SUB))
    assert lc.live_orders(SUB) == []


def test_c6_late_run_ends_the_trial_without_a_late_reminder(
    lc: Lifecycle, clock: ManualClock, notifier: RecordingNotifier
) -> None:
    trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    clock.advance(dt.timedelta(days=8))
    assert lc.run_due() == 1
    assert lc.get(trial.id).state is OrderState.CANCELLED
    assert notifier.of_kind(NoticeKind.TRIAL_REMINDER) == []
    assert len(notifier.of_kind(NoticeKind.TRIAL_ENDED)) == 1


def test_c6_policy_without_midpoint_refuses_short_trials(clock: ManualClock) -> None:
    policy = Policy.china_mobile(remind_short_trials_at_midpoint=False)
    with pytest.raises(PolicyError, match="GAME1"):
        Lifecycle(make_catalog(), policy=policy, clock=clock)


@given(
    days=st.integers(1, 40),
    lead_hours=st.integers(1, 24 * 10),
    steps=st.lists(st.integers(60, 5 * 86400), max_size=30),
)
def test_c6_every_trial_ends_after_at_most_one_reminder(
    days: int, lead_hours: int, steps: list[int]
) -> None:
    catalog = Catalog(
        [
            Service(
                code="T",
                sp_id="SP",
                sp_name="SP",
                name="体验",
                kind=OfferKind.TRIAL,
                price=Decimal(0),
                trial_days=days,
                access_code="106",
            )
        ]
    )
    clock = ManualClock(pendulum.datetime(2026, 1, 1, tz="UTC"))
    notifier = RecordingNotifier()
    policy = Policy.china_mobile(trial_reminder_lead=dt.timedelta(hours=lead_hours))
    lc = Lifecycle(catalog, policy=policy, clock=clock, notifier=notifier)
    trial = lc.request(SUB, "T", channel=Channel.WEB)
    for seconds in steps:
        clock.advance(dt.timedelta(seconds=seconds))
        lc.run_due()
    clock.advance(dt.timedelta(days=days + 1))
    lc.run_due()
    for _hour in range(24):  # hourly dispatches for a day: past any quiet hours (C16)
        clock.advance(dt.timedelta(hours=1))
        lc.dispatch()
    assert lc.get(trial.id).state is OrderState.CANCELLED
    kinds = [n.kind for n in notifier.sent]
    assert kinds.count(NoticeKind.TRIAL_STARTED) == 1
    assert kinds.count(NoticeKind.TRIAL_REMINDER) <= 1
    assert kinds.count(NoticeKind.TRIAL_ENDED) == 1
    assert check_invariants(lc, settled=True, delivered=notifier.sent) == []


# --- C7 ------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", list(Channel))
@pytest.mark.parametrize("service", ["NEWS", "MUSIC7"])
def test_c7_unsubscribe_works_from_every_live_state_and_channel(
    lc: Lifecycle, clock: ManualClock, notifier: RecordingNotifier, channel: Channel, service: str
) -> None:
    order = lc.request(SUB, service, channel=Channel.WEB)
    cancelled = lc.unsubscribe(order.id, channel=channel)
    assert cancelled.state is OrderState.CANCELLED
    assert cancelled.ended_at == clock.now()
    assert len(notifier.of_kind(NoticeKind.CANCELLED)) == 1


def test_c7_unsubscribe_active_trial_expiring(
    lc: Lifecycle, clock: ManualClock, notifier: RecordingNotifier
) -> None:
    sub = lc.request(SUB, "NEWS", channel=Channel.WEB)
    trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    clock.advance(dt.timedelta(days=5))
    lc.run_due()
    # the subscription was never confirmed: by now it has expired
    assert lc.get(trial.id).state is OrderState.TRIAL_EXPIRING
    assert lc.unsubscribe(trial.id, channel=Channel.SMS).state is OrderState.CANCELLED
    assert lc.get(sub.id).state is OrderState.EXPIRED
    assert lc.unsubscribe(sub.id, channel=Channel.SMS).state is OrderState.EXPIRED
    assert len(notifier.of_kind(NoticeKind.CANCELLED)) == 1


def test_c7_unsubscribe_is_idempotent_and_confirmed_once(
    lc: Lifecycle, clock: ManualClock, notifier: RecordingNotifier
) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=5))
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    first = lc.unsubscribe(order.id, channel=Channel.SMS)
    history = lc.history(order.id)
    clock.advance(dt.timedelta(minutes=1))
    second = lc.unsubscribe(order.id, channel=Channel.HOTLINE)
    assert second == first
    assert lc.history(order.id) == history
    assert len(notifier.of_kind(NoticeKind.CANCELLED)) == 1
    assert "即时生效" in notifier.of_kind(NoticeKind.CANCELLED)[0].text


def test_c7_unsubscribe_takes_effect_at_once(lc: Lifecycle, clock: ManualClock) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=5))
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    lc.unsubscribe(order.id, channel=Channel.SMS)
    assert not lc.may_charge(order.id, Decimal("5.00")).allowed


def test_c7_unsubscribe_all(lc: Lifecycle, notifier: RecordingNotifier) -> None:
    for code in ("NEWS", "WEATHER", "MUSIC7"):
        lc.request(SUB, code, channel=Channel.WEB)
    cancelled = lc.unsubscribe_all(SUB, channel=Channel.HOTLINE)
    assert {o.state for o in cancelled} == {OrderState.CANCELLED} and len(cancelled) == 3
    assert lc.live_orders(SUB) == []
    assert len(notifier.of_kind(NoticeKind.CANCELLED)) == 3


@given(
    actions=st.lists(
        st.tuples(st.sampled_from(["advance", "run_due", "unsubscribe"]), strategies.channels),
        min_size=1,
        max_size=15,
    ),
    service=st.sampled_from(["NEWS", "MUSIC7", "GAME1"]),
    confirm=st.booleans(),
)
def test_c7_every_sequence_ends_cancelled_after_unsubscribe(
    actions: list[tuple[str, Channel]], service: str, confirm: bool
) -> None:
    clock = ManualClock(pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai"))
    notifier = RecordingNotifier()
    lc = Lifecycle(make_catalog(), clock=clock, notifier=notifier)
    order = lc.request(SUB, service, channel=Channel.WEB)
    if confirm and service == "NEWS":
        clock.advance(dt.timedelta(seconds=3))
        lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    for action, channel in actions:
        if action == "advance":
            clock.advance(dt.timedelta(hours=7))
        elif action == "run_due":
            lc.run_due()
        else:
            before = lc.get(order.id)
            after = lc.unsubscribe(order.id, channel=channel)
            if before.is_live:
                assert after.state is OrderState.CANCELLED
            else:
                assert after == before
    assert len(notifier.of_kind(NoticeKind.CANCELLED)) <= 1
    assert check_invariants(lc) == []
