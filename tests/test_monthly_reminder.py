"""C17: the free monthly reminder (梦网服务免费提醒): once in each calendar month of the
policy's time zone, every subscriber with active paid subscriptions activated before
the month began gets one free text naming each of them and how to cancel; nobody else
does, and never in the quiet hours."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import make_catalog
from tests.pg_worker import timers as timer_worker
from tests.test_store_postgres import DSN, drop_schema, require_postgres
from vas_lifecycle import (
    Channel,
    Lifecycle,
    ManualClock,
    MemoryStore,
    Notice,
    NoticeKind,
    Policy,
    PostgresStore,
    RecordingNotifier,
    SQLiteStore,
    Store,
)
from vas_lifecycle.errors import TemplateError
from vas_lifecycle.notices import ENGLISH, SIMPLIFIED_CHINESE, TemplateSet
from vas_lifecycle.testing import check_invariants
from vas_lifecycle.timers import reminder_period

SHANGHAI = "Asia/Shanghai"
NEW_YORK = "America/New_York"


def _lifecycle(store: Store, start: pendulum.DateTime, policy: Policy | None = None) -> Lifecycle:
    return Lifecycle(
        make_catalog(),
        policy=policy or Policy.china_mobile(),
        clock=ManualClock(start),
        store=store,
        notifier=RecordingNotifier(),
        rng=random.Random(3),
    )


def _subscribe(lc: Lifecycle, msisdn: str, service: str) -> str:
    order = lc.request(msisdn, service, channel=Channel.WEB)
    clock = lc.clock
    assert isinstance(clock, ManualClock)
    clock.advance(dt.timedelta(seconds=10))  # a human's reply (C13)
    if order.code is not None:  # a trial from the web starts at once
        lc.confirm(order.id, msisdn=msisdn, channel=Channel.SMS)
    return order.id


def _reminders(lc: Lifecycle) -> list[Notice]:
    notifier = lc.notifier
    assert isinstance(notifier, RecordingNotifier)
    return [n for n in notifier.sent if n.kind is NoticeKind.MONTHLY_REMINDER]


def _at(lc: Lifecycle, when: pendulum.DateTime) -> int:
    """Set the clock to ``when`` and run the timers (and deliver what they made)."""
    clock = lc.clock
    assert isinstance(clock, ManualClock)
    clock.set(when)
    moved = lc.run_due()
    lc.dispatch()
    return moved


STORES: dict[str, Callable[[Path], Store]] = {
    "memory": lambda _: MemoryStore(),
    "sqlite": lambda tmp: SQLiteStore(tmp / "c17.db"),
}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return STORES[request.param](tmp_path)


def test_c17_reminder_periods_on_plain_values() -> None:
    policy = Policy.china_mobile()
    month, start = reminder_period(pendulum.datetime(2026, 11, 30, 17, tz="UTC"), policy)
    assert (month, start) == ("2026-12", pendulum.datetime(2026, 11, 30, 16, tz="UTC"))
    eastern = Policy.china_mobile(timezone=NEW_YORK)
    # 1 Nov 2026 is the day New York leaves summer time: the month began at 04:00 UTC
    assert reminder_period(pendulum.datetime(2026, 11, 1, 3, 59, 59, tz="UTC"), eastern) == (
        "2026-10",
        pendulum.datetime(2026, 10, 1, 4, tz="UTC"),
    )
    assert reminder_period(pendulum.datetime(2026, 11, 1, 4, tz="UTC"), eastern) == (
        "2026-11",
        pendulum.datetime(2026, 11, 1, 4, tz="UTC"),
    )


def test_c17_one_free_reminder_a_month_naming_each_paid_subscription(store: Store) -> None:
    lc = _lifecycle(store, pendulum.datetime(2026, 11, 20, 10, tz=SHANGHAI))
    news = _subscribe(lc, "+8613800000001", "NEWS")
    _subscribe(lc, "+8613800000001", "WEATHER")
    _subscribe(lc, "+8613800000002", "MUSIC7")  # a free trial: nothing paid
    gone = _subscribe(lc, "+8613800000003", "NEWS")
    lc.unsubscribe(gone, channel=Channel.SMS, text="TD")  # nothing live
    # the last minute of November: no reminder yet (the first full month is December)
    _at(lc, pendulum.datetime(2026, 11, 30, 21, 59, tz=SHANGHAI))
    assert _reminders(lc) == []
    late = _subscribe(lc, "+8613800000004", "NEWS")  # activated 30 Nov, 21:59
    _at(lc, pendulum.datetime(2026, 12, 1, 8, 0, tz=SHANGHAI))
    sent = {n.msisdn: n for n in _reminders(lc)}
    assert sorted(sent) == ["+8613800000001", "+8613800000004"]
    text = sent["+8613800000001"].text
    assert "星辰科技" in text and "新闻早报" in text and "天气预报" in text
    assert "5元/月" in text and "3元/月" in text and "10658001" in text
    assert "0000" in text and "10086" in text and "TD" in text and "免费" in text
    assert sent["+8613800000001"].order_id is None and sent["+8613800000001"].sender == "10086"
    # once a month, however often the timers run
    for day in (1, 2, 15, 31):
        _at(lc, pendulum.datetime(2026, 12, day, 12, tz=SHANGHAI))
    assert len(_reminders(lc)) == 2
    lc.unsubscribe(late, channel=Channel.SMS, text="TD")
    lc.pause(news, channel=Channel.SMS)  # paused: not being paid
    _at(lc, pendulum.datetime(2027, 1, 1, 9, tz=SHANGHAI))
    january = [n for n in _reminders(lc) if n.at.month == 1]
    assert [(n.msisdn, "天气预报" in n.text, "新闻早报" in n.text) for n in january] == [
        ("+8613800000001", True, False)
    ]
    assert check_invariants(lc, settled=True) == []


def test_c17_never_in_the_quiet_hours(store: Store) -> None:
    lc = _lifecycle(store, pendulum.datetime(2026, 11, 20, 10, tz=SHANGHAI))
    _subscribe(lc, "+8613800000001", "NEWS")
    for hour in (0, 3, 7):  # the first night of the month: 22:00-08:00
        _at(lc, pendulum.datetime(2026, 12, 1, hour, 59, tz=SHANGHAI))
    assert _reminders(lc) == []
    _at(lc, pendulum.datetime(2026, 12, 1, 8, tz=SHANGHAI))
    (reminder,) = _reminders(lc)
    assert reminder.at == pendulum.datetime(2026, 12, 1, 8, tz=SHANGHAI)


def test_c17_the_month_boundary_in_a_dst_zone(store: Store) -> None:
    """New York leaves summer time on 1 November 2026: the month, the quiet hours and
    the first full month are the local ones."""
    policy = Policy.china_mobile(timezone=NEW_YORK, country_code="1")
    lc = _lifecycle(store, pendulum.datetime(2026, 9, 30, 12, tz=NEW_YORK), policy)
    _subscribe(lc, "+12125550101", "NEWS")  # activated 30 September
    _at(lc, pendulum.datetime(2026, 10, 1, 8, tz=NEW_YORK))  # 12:00 UTC, summer time
    _at(lc, pendulum.datetime(2026, 10, 31, 21, 59, tz=NEW_YORK))
    assert [n.at.in_tz(NEW_YORK).month for n in _reminders(lc)] == [10]
    _at(lc, pendulum.datetime(2026, 11, 1, 7, 59, tz=NEW_YORK))  # still the quiet hours
    assert len(_reminders(lc)) == 1
    _at(lc, pendulum.datetime(2026, 11, 1, 8, tz=NEW_YORK))  # 13:00 UTC, winter time
    assert [n.at.in_tz(NEW_YORK).month for n in _reminders(lc)] == [10, 11]
    assert _reminders(lc)[1].at == pendulum.datetime(2026, 11, 1, 13, tz="UTC")
    assert check_invariants(lc, settled=True) == []


def test_c17_a_month_of_many_subscribers_goes_out_in_batches(store: Store) -> None:
    lc = _lifecycle(store, pendulum.datetime(2026, 11, 20, 10, tz=SHANGHAI))
    numbers = [f"+86138{n:08d}" for n in range(23)]
    for msisdn in numbers:
        _subscribe(lc, msisdn, "NEWS")
    clock = lc.clock
    assert isinstance(clock, ManualClock)
    clock.set(pendulum.datetime(2026, 12, 1, 9, tz=SHANGHAI))
    assert lc.run_due(batch=5, max_batches=2) == 10  # two units of work, then stopped
    assert lc.run_due(batch=5) == 13  # taken up where it stood
    lc.dispatch()
    assert Counter(n.msisdn for n in _reminders(lc)) == dict.fromkeys(numbers, 1)
    assert lc.run_due(batch=5) == 0


def test_c17_none_where_the_policy_sends_none(store: Store) -> None:
    policy = Policy.china_mobile(monthly_reminder=False)
    lc = _lifecycle(store, pendulum.datetime(2026, 11, 20, 10, tz=SHANGHAI), policy)
    _subscribe(lc, "+8613800000001", "NEWS")
    _at(lc, pendulum.datetime(2026, 12, 1, 9, tz=SHANGHAI))
    assert _reminders(lc) == []


def test_c17_in_english_for_an_english_subscriber() -> None:
    lc = _lifecycle(MemoryStore(), pendulum.datetime(2026, 11, 20, 10, tz=SHANGHAI))
    order = lc.request("+8613800000001", "NEWS", channel=Channel.WEB, language="en")
    lc.clock.advance(dt.timedelta(seconds=10))  # type: ignore[attr-defined]
    lc.confirm(order.id, msisdn=order.msisdn, channel=Channel.SMS)
    _at(lc, pendulum.datetime(2026, 12, 1, 9, tz=SHANGHAI))
    (reminder,) = _reminders(lc)
    assert reminder.language == "en" and "send TD to 10658001" in reminder.text


def test_c17_the_checker_reports_a_reminder_to_someone_who_pays_nothing() -> None:
    lc = _lifecycle(MemoryStore(), pendulum.datetime(2026, 11, 20, 10, tz=SHANGHAI))
    _subscribe(lc, "+8613800000001", "MUSIC7")
    _at(lc, pendulum.datetime(2026, 12, 1, 9, tz=SHANGHAI))
    with lc.store.transaction() as tx:  # a rogue integration sends one anyway
        rogue = lc.policy.pack().render(
            NoticeKind.MONTHLY_REMINDER,
            {"items": "1.乐享音乐“彩铃体验”", "list_word": "0000", "operator_number": "10086"},
        )
        tx.outbox.add_notice(
            Notice(
                "rogue",
                NoticeKind.MONTHLY_REMINDER,
                "+8613800000001",
                None,
                rogue,
                pendulum.datetime(2026, 12, 1, 2, tz="UTC"),
                "10086",
                "zh-CN",
            )
        )
    found = [v for v in check_invariants(lc) if v.invariant == "C17"]
    assert [v.message for v in found] == [
        "a monthly reminder to +86138****0001, who paid nothing",
    ]


def test_c17_the_checker_reports_a_month_without_its_reminder() -> None:
    lc = _lifecycle(MemoryStore(), pendulum.datetime(2026, 11, 20, 10, tz=SHANGHAI))
    order = _subscribe(lc, "+8613800000001", "NEWS")
    clock = lc.clock
    assert isinstance(clock, ManualClock)
    clock.set(pendulum.datetime(2026, 12, 1, 9, tz=SHANGHAI))  # the timers never ran
    found = [v for v in check_invariants(lc, settled=True) if v.invariant == "C17"]
    assert [(v.order_id, v.message) for v in found] == [
        (order, "no reminder in 2026-12 of a paid order")
    ]


@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["subscribe", "trial", "cancel", "pause", "resume", "wait"]),
            st.integers(0, 3),
            st.integers(1, 400),
        ),
        max_size=40,
    )
)
def test_c17_every_sequence_reminds_each_payer_once_a_month_and_nobody_else(
    steps: list[tuple[str, int, int]],
) -> None:
    lc = _lifecycle(MemoryStore(), pendulum.datetime(2026, 11, 20, 10, tz=SHANGHAI))
    clock = lc.clock
    assert isinstance(clock, ManualClock)
    numbers = [f"+86138{n:08d}" for n in range(4)]
    for action, who, hours in steps:
        msisdn = numbers[who]
        live = lc.live_orders(msisdn)
        try:
            if action == "subscribe":
                _subscribe(lc, msisdn, random.Random(hours).choice(["NEWS", "WEATHER"]))
            elif action == "trial":
                _subscribe(lc, msisdn, "MUSIC7")
            elif action == "cancel" and live:
                lc.unsubscribe(live[0].id, channel=Channel.SMS, text="TD")
            elif action == "pause" and live:
                lc.pause(live[0].id, channel=Channel.SMS)
            elif action == "resume" and live:
                lc.resume(live[0].id, channel=Channel.SMS)
        except Exception as err:  # refusals (a trial paused, a second live order)
            assert type(err).__module__ == "vas_lifecycle.errors"
        clock.advance(dt.timedelta(hours=hours))
        lc.run_due()
        lc.dispatch()
        assert check_invariants(lc, settled=True) == []
    months = Counter((n.msisdn, n.at.in_tz(SHANGHAI).format("YYYY-MM")) for n in _reminders(lc))
    assert all(count == 1 for count in months.values())


def test_c17_four_postgres_workers_send_one_reminder_per_subscriber() -> None:
    """The sweep's position is held while a batch is decided: four processes running
    the timers at once send each subscriber one reminder, no more."""
    require_postgres()
    schema = "vas_test_monthly"
    drop_schema(schema)
    try:
        lc = _lifecycle(
            PostgresStore(DSN, schema=schema), pendulum.datetime(2026, 11, 20, 10, tz=SHANGHAI)
        )
        numbers = [f"+86138{n:08d}" for n in range(120)]
        for msisdn in numbers:
            _subscribe(lc, msisdn, "NEWS")
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(4)
        when = pendulum.datetime(2026, 12, 1, 9, tz=SHANGHAI).isoformat()
        procs = [
            ctx.Process(target=timer_worker, args=(DSN, schema, when, barrier)) for _ in range(4)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=300)
            assert proc.exitcode == 0
        with lc.store.transaction(readonly=True) as tx:
            sent = [n for n in tx.outbox.all_notices() if n.kind is NoticeKind.MONTHLY_REMINDER]
        assert Counter(n.msisdn for n in sent) == dict.fromkeys(numbers, 1)
        clock = lc.clock
        assert isinstance(clock, ManualClock)
        clock.set(pendulum.datetime(2026, 12, 1, 9, 5, tz=SHANGHAI))
        assert check_invariants(lc, settled=True) == []
        lc.close()
    finally:
        drop_schema(schema)


def test_c17_every_language_pack_must_say_what_the_reminder_must_say() -> None:
    """The reminder's template must list the items and how to cancel, and its line
    must name the access code TD goes to: checked when a pack is built."""
    for pack in (SIMPLIFIED_CHINESE, ENGLISH):
        with pytest.raises(TemplateError, match="operator_number"):
            pack.with_template(NoticeKind.MONTHLY_REMINDER, "{items}, send {list_word}")
        phrases = {**pack.phrases, "reminder_item": "{n}. {service_name} {price}"}
        with pytest.raises(TemplateError, match="reminder_item"):
            TemplateSet(pack.language, pack.templates, phrases)


def test_c17_a_reminder_between_a_resume_and_a_pause_at_one_instant_is_owed() -> None:
    """Two commands at the reminder's very instant (a resume, the sweep, a pause): the
    order was paying when the sweep read it, so the reminder is owed, and the checker
    finds nothing (it once read only before and after the instant)."""
    clock = ManualClock(pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai"))
    notifier = RecordingNotifier()
    lc = Lifecycle(make_catalog(), clock=clock, notifier=notifier)
    order = lc.request("13800138000", "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=30))
    lc.confirm(order.id, msisdn="13800138000", channel=Channel.SMS)
    lc.pause(order.id, channel=Channel.SMS)
    clock.advance(dt.timedelta(days=30))  # into December, paused
    lc.resume(order.id, channel=Channel.SMS)
    lc.run_due()  # December's reminder, at the resume's instant
    lc.pause(order.id, channel=Channel.SMS)  # and paused again, at the same instant
    (reminder,) = notifier.of_kind(NoticeKind.MONTHLY_REMINDER)
    assert reminder.at == clock.now()
    assert check_invariants(lc) == []
