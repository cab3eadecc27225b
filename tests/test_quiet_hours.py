"""C16: the platform's own notices keep out of the quiet hours (22:00-08:00 local by
default). A reminder is scheduled before them, never after, so its lead holds; a
trial's end at night happens on time, and its notice waits for the morning;
immediate replies never wait."""

from __future__ import annotations

import datetime as dt
import random

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import SUB, make_catalog
from vas_lifecycle import (
    Channel,
    Lifecycle,
    ManualClock,
    NoticeKind,
    OrderState,
    Policy,
    PolicyError,
    RecordingNotifier,
)
from vas_lifecycle.notices import Notice
from vas_lifecycle.testing import check_invariants
from vas_lifecycle.timers import quiet_period

TZ = "Asia/Shanghai"


def local(day: int, hour: int, minute: int = 0) -> pendulum.DateTime:
    return pendulum.datetime(2026, 11, day, hour, minute, tz=TZ)


class ClockedNotifier(RecordingNotifier):
    """Records the instant each notice was handed to it."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__()
        self.clock = clock
        self.when: dict[str, pendulum.DateTime] = {}
        self.failing = False

    def send(self, notice: Notice) -> None:
        if self.failing:
            raise ConnectionError("gateway down")
        self.when.setdefault(notice.id, self.clock.now())
        super().send(notice)


def world(start: pendulum.DateTime, policy: Policy | None = None):  # type: ignore[no-untyped-def]
    clock = ManualClock(start)
    notifier = ClockedNotifier(clock)
    lc = Lifecycle(
        make_catalog(),
        policy=policy or Policy.china_mobile(),
        clock=clock,
        notifier=notifier,
        rng=random.Random(1),
    )
    return lc, clock, notifier


def is_quiet(when: pendulum.DateTime, policy: Policy) -> bool:
    return quiet_period(when, policy) is not None


def test_c16_the_quiet_hours_are_22_to_8_local_by_default() -> None:
    policy = Policy.china_mobile()
    assert policy.quiet_hours == (dt.time(22), dt.time(8))
    assert is_quiet(local(24, 22), policy) and is_quiet(local(25, 7, 59), policy)
    assert is_quiet(local(25, 2, 30), policy)
    assert not is_quiet(local(24, 21, 59), policy) and not is_quiet(local(25, 8), policy)
    assert quiet_period(local(25, 2, 30), policy) == (
        local(24, 22).in_timezone("UTC"),
        local(25, 8).in_timezone("UTC"),
    )
    assert not is_quiet(local(25, 2, 30), Policy.china_mobile(quiet_hours=None))
    daytime = Policy.china_mobile(quiet_hours=(dt.time(12), dt.time(14)))
    assert is_quiet(local(24, 13), daytime) and not is_quiet(local(24, 23), daytime)


@pytest.mark.parametrize(
    "bad", [(dt.time(8), dt.time(8)), (dt.time(22),), ("22:00", "08:00"), (dt.time(22), None)]
)
def test_c16_malformed_quiet_hours_are_refused(bad: object) -> None:
    with pytest.raises(PolicyError, match="quiet_hours"):
        Policy.china_mobile(quiet_hours=bad)


def test_c16_a_reminder_that_would_fall_at_night_is_scheduled_before_the_night() -> None:
    lc, clock, notifier = world(local(24, 3, 0))  # a seven-day trial started at 03:00
    trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    assert trial.trial_ends_at == local(24, 3).add(days=7)
    # 48 h before the end is 03:00 on the 29th: moved to the evening before, not later
    assert trial.remind_at == local(28, 21, 59)
    assert trial.trial_ends_at - trial.remind_at >= lc.policy.trial_reminder_lead
    clock.set(trial.remind_at)
    lc.run_due()
    (reminder,) = notifier.of_kind(NoticeKind.TRIAL_REMINDER)
    assert notifier.when[reminder.id] == local(28, 21, 59)


def test_c16_a_trial_ends_on_time_at_night_and_its_notice_waits_for_the_morning() -> None:
    lc, clock, notifier = world(local(24, 2, 30))
    trial = lc.request(SUB, "GAME1", channel=Channel.WEB)  # one day: ends at 02:30
    clock.set(trial.remind_at)
    lc.run_due()
    clock.set(trial.trial_ends_at)
    lc.run_due()
    assert lc.get(trial.id).state is OrderState.CANCELLED  # ended on time: nothing to charge
    assert notifier.of_kind(NoticeKind.TRIAL_ENDED) == []
    clock.set(local(25, 7, 59))
    assert lc.dispatch() == 0
    (held,) = [n for n in lc.notices(trial.id) if n.kind is NoticeKind.TRIAL_ENDED]
    clock.set(local(25, 8))
    assert lc.dispatch() == 1
    assert notifier.when[held.id] == local(25, 8)


def test_c16_replies_and_notices_of_an_action_never_wait() -> None:
    lc, clock, notifier = world(local(24, 23, 30))
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)  # the subscriber's own order
    clock.advance(dt.timedelta(seconds=30))
    lc.handle_sms(SUB, "是", to="10086")
    lc.handle_sms(SUB, "0000", to="10086")
    lc.unsubscribe(order.id, channel=Channel.HOTLINE)
    kinds = [n.kind for n in notifier.sent]
    assert kinds == [
        NoticeKind.CONFIRMATION_REQUEST,
        NoticeKind.ACTIVATED,
        NoticeKind.LIVE_LIST,
        NoticeKind.CANCELLED,
    ]
    assert all(is_quiet(at, lc.policy) for at in notifier.when.values())


def test_c16_a_reminder_retried_into_the_night_waits_for_the_morning() -> None:
    lc, clock, notifier = world(local(24, 3, 0))
    trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    notifier.failing = True
    clock.set(trial.remind_at)  # 21:59
    lc.run_due()  # the gateway is down
    notifier.failing = False
    clock.set(local(28, 22, 30))  # the first retry falls in the night
    assert lc.dispatch() == 0
    clock.set(local(29, 8))
    assert lc.dispatch() == 1
    (reminder,) = notifier.of_kind(NoticeKind.TRIAL_REMINDER)
    assert notifier.when[reminder.id] == local(29, 8)
    assert notifier.when[reminder.id] < trial.trial_ends_at  # still before the end


@given(
    start_minute=st.integers(0, 366 * 24 * 60),
    days=st.sampled_from(["MUSIC7", "GAME1"]),
    quiet=st.one_of(
        st.none(), st.tuples(st.integers(0, 23), st.integers(0, 23)).filter(lambda t: t[0] != t[1])
    ),
    steps=st.lists(st.integers(60, 36 * 3600), min_size=1, max_size=25),
    outage=st.booleans(),
)
def test_c16_every_sequence_keeps_the_platforms_own_notices_out_of_the_quiet_hours(
    start_minute: int,
    days: str,
    quiet: tuple[int, int] | None,
    steps: list[int],
    outage: bool,
) -> None:
    """Whatever the start, the quiet hours, the clock's steps and gateway outages: no
    reminder or trial-end notice is handed over inside the quiet hours, a reminder
    never goes out later than it was due unless the gateway was down, and the trial
    always ends on time and every notice goes out in the end."""
    hours = None if quiet is None else (dt.time(quiet[0]), dt.time(quiet[1]))
    policy = Policy.china_mobile(quiet_hours=hours)
    start = pendulum.datetime(2026, 1, 1, tz=TZ).add(minutes=start_minute)
    lc, clock, notifier = world(start, policy)
    trial = lc.request(SUB, days, channel=Channel.WEB)
    assert trial.remind_at is not None and trial.trial_ends_at is not None
    assert start <= trial.remind_at <= trial.trial_ends_at
    assert not is_quiet(trial.remind_at, policy) or trial.remind_at == start
    for n, seconds in enumerate(steps):
        notifier.failing = outage and n % 2 == 0
        clock.advance(dt.timedelta(seconds=seconds))
        lc.run_due()
        lc.dispatch()
    notifier.failing = False
    # then a worker runs every ten minutes, for a day and an hour after the trial's end
    # (or after now): whatever the quiet hours, they end in it
    until = max(clock.now(), trial.trial_ends_at).add(hours=25)
    while clock.now() < until:
        clock.advance(dt.timedelta(minutes=10))
        lc.run_due()
        lc.dispatch()
    assert lc.get(trial.id).state is OrderState.CANCELLED
    assert lc.get(trial.id).ended_at is not None
    assert lc.get(trial.id).ended_at <= max(trial.trial_ends_at, clock.now())
    for notice in notifier.sent:
        if notice.kind in policy.quiet_kinds:
            assert not is_quiet(notifier.when[notice.id], policy), notice.kind
    kinds = [n.kind for n in notifier.sent]
    assert kinds.count(NoticeKind.TRIAL_ENDED) == 1
    if NoticeKind.TRIAL_REMINDER in kinds:  # one order's notices go out in order
        assert kinds.index(NoticeKind.TRIAL_REMINDER) < kinds.index(NoticeKind.TRIAL_ENDED)


def _held_reminder(start_hour: int = 3):  # type: ignore[no-untyped-def]
    """A seven-day trial whose reminder fired late, at 22:30: held until 08:00."""
    lc, clock, notifier = world(local(10, start_hour))
    trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    assert trial.remind_at == local(14, 21, 59)  # 48 h before the end is 03:00 on the 15th
    clock.set(local(14, 22, 30))  # the worker was late
    lc.run_due()
    assert notifier.of_kind(NoticeKind.TRIAL_REMINDER) == []
    (reminder,) = [n for n in lc.notices(trial.id) if n.kind is NoticeKind.TRIAL_REMINDER]
    return lc, clock, notifier, trial, reminder


def test_c16_a_reply_is_never_held_behind_a_held_reminder_which_it_overtakes() -> None:
    lc, clock, notifier, trial, reminder = _held_reminder()
    clock.set(local(14, 23))
    lc.handle_sms(SUB, "TD", to=trial.access_code)  # the subscriber leaves at night
    assert [n.kind for n in notifier.sent][-1] is NoticeKind.CANCELLED  # at once
    assert notifier.when[notifier.sent[-1].id] == local(14, 23)
    clock.set(local(15, 8))
    assert lc.dispatch() == 0  # "your trial ends soon", after it was cancelled: never
    with lc.store.transaction() as tx:
        assert reminder.id in tx.outbox.withdrawn_notices()
    assert check_invariants(lc, settled=True, delivered=notifier.sent) == []


def test_c16_a_trial_end_overtakes_a_reminder_that_never_went_out() -> None:
    lc, clock, notifier, trial, _reminder = _held_reminder()
    clock.set(trial.trial_ends_at.add(hours=6))  # 09:00: no dispatch ran since 22:30
    lc.run_due()
    kinds = [n.kind for n in notifier.sent]
    assert kinds[-1] is NoticeKind.TRIAL_ENDED and NoticeKind.TRIAL_REMINDER not in kinds
    assert lc.dispatch() == 0
    assert check_invariants(lc, settled=True, delivered=notifier.sent) == []


def _quiet_by_instants(
    when: pendulum.DateTime, policy: Policy
) -> tuple[pendulum.DateTime, pendulum.DateTime] | None:
    """The quiet hours that ``when`` falls in, worked out from the instants of the
    day before and the day itself, read by pendulum (what ``quiet_period`` did before
    it used the standard library's zones): the reference it must agree with."""
    assert policy.quiet_hours is not None
    begin, end = policy.quiet_hours
    here = pendulum.instance(when).in_timezone(policy.timezone)
    for day in (here.subtract(days=1), here):
        start = pendulum.datetime(
            day.year, day.month, day.day, begin.hour, begin.minute, tz=policy.timezone
        )
        last = day.add(days=1) if end <= begin else day
        stop = pendulum.datetime(
            last.year, last.month, last.day, end.hour, end.minute, tz=policy.timezone
        )
        if start <= when < stop:
            return start.in_timezone("UTC"), stop.in_timezone("UTC")
    return None


@given(
    zone=st.sampled_from(
        ["Asia/Shanghai", "Europe/London", "America/New_York", "Australia/Lord_Howe"]
    ),
    begin=st.integers(0, 47),
    length=st.integers(1, 47),
    offset=st.integers(0, 366 * 24 * 4),
)
def test_c16_the_quiet_hours_are_the_same_instants_pendulum_reads_in_every_zone(
    zone: str, begin: int, length: int, offset: int
) -> None:
    """Every quarter hour of a year with two daylight-saving changes (and Lord Howe's
    half-hour one), for quiet hours starting and ending on any half hour (some on a
    time the clock skips or shows twice): the quiet period is the one pendulum reads."""
    start = dt.time(begin // 2, 30 * (begin % 2))
    stop_at = (begin + length) % 48
    stop = dt.time(stop_at // 2, 30 * (stop_at % 2))
    if stop == start:
        return
    policy = Policy.china_mobile(timezone=zone, quiet_hours=(start, stop))
    when = pendulum.datetime(2026, 1, 1, tz="UTC").add(minutes=15 * offset)
    assert quiet_period(when, policy) == _quiet_by_instants(when, policy)
