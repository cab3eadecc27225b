"""Opt-out grammars by regime (UK1, US2, IN4, AU3): the words that leave, what each
ends, read as tolerantly as C10 reads, and a revocation in other words flagged for
review, never ignored silently. Run on memory and SQLite."""

from __future__ import annotations

import datetime as dt
import random

import pendulum
import pytest

from tests.conftest import make_catalog
from vas_lifecycle import (
    Channel,
    EventKind,
    FeedEvent,
    FeedKind,
    Lifecycle,
    ManualClock,
    MemoryStore,
    NoticeKind,
    OrderState,
    Policy,
    RecordingNotifier,
    Store,
)
from vas_lifecycle.sms import CommandKind, parse
from vas_lifecycle.testing import check_invariants

#: where the demo catalog's subscriptions (NEWS, WEATHER) and trials live
SUBSCRIPTIONS, TRIALS = "10658001", "10658002"


def _world(
    store: Store, preset: str, start: pendulum.DateTime
) -> tuple[Lifecycle, ManualClock, RecordingNotifier]:
    clock, notifier = ManualClock(start), RecordingNotifier()
    lc = Lifecycle(
        make_catalog(),
        policy=Policy.regime(preset),
        clock=clock,
        store=store,
        notifier=notifier,
        rng=random.Random(11),
    )
    return lc, clock, notifier


def _active(lc: Lifecycle, clock: ManualClock, msisdn: str, service: str) -> str:
    order = lc.request(msisdn, service, channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=10))
    if order.state is OrderState.AWAITING_CONFIRMATION:
        gateway = Channel.CONSENT_GATEWAY in lc.policy.operator_channels
        channel = Channel.CONSENT_GATEWAY if gateway else Channel.SMS
        lc.confirm(
            order.id, msisdn=msisdn, channel=channel, attestation="cg-1" if gateway else None
        )
    clock.advance(dt.timedelta(minutes=1))
    return order.id


def _states(lc: Lifecycle, *order_ids: str) -> list[OrderState]:
    return [lc.get(oid).state for oid in order_ids]


LIVE, GONE = OrderState.ACTIVE, OrderState.CANCELLED


def test_uk1_stop_ends_that_service_and_stop_all_every_service_on_that_shortcode(
    store: Store,
) -> None:
    lc, clock, notifier = _world(store, "uk_psa", pendulum.datetime(2026, 3, 2, 10, tz="UTC"))
    sub = "+447700900001"
    news = _active(lc, clock, sub, "NEWS")
    weather = _active(lc, clock, sub, "WEATHER")  # the latest on 10658001
    trial = _active(lc, clock, sub, "MUSIC7")  # another shortcode
    lc.handle_sms(sub, "stop", to=SUBSCRIPTIONS)
    assert _states(lc, news, weather) == [LIVE, GONE]
    lc.handle_sms(sub, " Ｓｔｏｐ  ａｌｌ! ", to=SUBSCRIPTIONS)
    assert _states(lc, news, weather) == [GONE, GONE]
    assert lc.get(trial).state is OrderState.TRIAL  # not on that shortcode
    cancelled = [n.order_id for n in notifier.sent if n.kind is NoticeKind.CANCELLED]
    assert cancelled == [weather, news]  # each confirmed once, in the order they ended
    assert check_invariants(lc) == []


@pytest.mark.parametrize(
    "text",
    ["STOP", "end", "Cancel.", " UNSUBSCRIBE ", "quit!", "Ｒｅｖｏｋｅ", "opt out", "Opt Out"],
)
def test_us2_each_opt_out_word_alone_revokes_on_that_shortcode(text: str) -> None:
    lc, clock, notifier = _world(
        MemoryStore(), "us_ctia", pendulum.datetime(2026, 3, 2, 15, tz="UTC")
    )
    sub = "+12025550101"
    news, weather = _active(lc, clock, sub, "NEWS"), _active(lc, clock, sub, "WEATHER")
    trial = _active(lc, clock, sub, "MUSIC7")
    before = len(notifier.sent)
    lc.handle_sms(sub, text, to=SUBSCRIPTIONS)
    assert _states(lc, news, weather) == [GONE, GONE]
    assert lc.get(trial).state is OrderState.TRIAL
    # one confirmation text, nothing more, naming both services
    (confirmation,) = notifier.sent[before:]
    assert confirmation.kind is NoticeKind.OPTED_OUT and confirmation.sender == SUBSCRIPTIONS
    assert confirmation.text.count("$") == 2 and "nothing more will be charged" in confirmation.text
    for order_id in (news, weather):
        (cancel,) = [e for e in lc.history(order_id) if e.kind is EventKind.ORDER_CANCELLED]
        assert cancel.data["confirmed_by"] == confirmation.id
    assert check_invariants(lc, delivered=notifier.sent) == []


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("Please stop texting me", True),
        ("unsubscribe me from this now", True),
        ("don't text me again", True),
        ("opt me out", True),
        ("I love the nonstop news", False),
        ("what is this?", False),
        ("x" * 300 + " stop", True),  # longer than any command
    ],
)
def test_us2_a_revocation_in_other_words_is_flagged_for_review(
    store: Store, text: str, flagged: bool
) -> None:
    lc, clock, _notifier = _world(store, "us_ctia", pendulum.datetime(2026, 3, 2, 15, tz="UTC"))
    sub = "+12025550101"
    news = _active(lc, clock, sub, "NEWS")
    trial = _active(lc, clock, sub, "MUSIC7")
    seen: list[FeedEvent] = []
    lc.feed.subscribe("review", seen.append)
    replies = lc.handle_sms(sub, text, to=SUBSCRIPTIONS)
    assert [n.kind for n in replies] == [NoticeKind.UNRECOGNISED]  # nothing is left silent
    assert _states(lc, news) == [LIVE]  # a person decides, not a guess
    marks = [e for e in lc.history(news) if e.kind is EventKind.OPT_OUT_FLAGGED]
    assert len(marks) == (1 if flagged else 0)
    if flagged:
        assert marks[0].text_in is not None and marks[0].data["to"] == SUBSCRIPTIONS
        assert [e.kind for e in seen] == [FeedKind.OPT_OUT_FLAGGED]
    assert not [e for e in lc.history(trial) if e.kind is EventKind.OPT_OUT_FLAGGED]
    assert check_invariants(lc) == []


def test_china_flags_nothing_and_reads_td_as_before() -> None:
    china = Policy.china_mobile()
    assert parse("please stop texting me", china, to_operator=False).flagged is False
    assert parse("TD", china, to_operator=False).kind is CommandKind.UNSUBSCRIBE
    assert parse("", china, to_operator=True).kind is CommandKind.UNKNOWN


def test_in4_stop_or_an_empty_text_to_155223_lists_live_services_and_a_number_picks(
    store: Store,
) -> None:
    lc, clock, _notifier = _world(store, "india_trai", pendulum.datetime(2026, 3, 2, 6, tz="UTC"))
    sub = "+919812345678"
    news, weather = _active(lc, clock, sub, "NEWS"), _active(lc, clock, sub, "WEATHER")
    for text in ("STOP", "", "  "):
        (listing,) = lc.handle_sms(sub, text, to="155223")
        assert listing.kind is NoticeKind.LIVE_LIST
    received, done = lc.handle_sms(sub, "2", to="155223")  # two texts: received, then done
    assert _states(lc, news, weather) == [LIVE, GONE]
    assert received.kind is NoticeKind.OPT_OUT_RECEIVED and "₹3" in received.text
    assert done.kind is NoticeKind.CANCELLED and done.order_id == weather
    received, done = lc.handle_sms(sub, "STOP", to=SUBSCRIPTIONS)[-2:]  # the rest, at the SP
    assert (received.kind, done.kind) == (NoticeKind.OPT_OUT_RECEIVED, NoticeKind.CANCELLED)
    # an empty text to an SP's number is not a request to list (it is unreadable)
    (reply,) = lc.handle_sms(sub, "", to=SUBSCRIPTIONS)
    assert reply.kind is NoticeKind.UNRECOGNISED
    assert check_invariants(lc) == []


def test_in1_a_text_yes_never_confirms_under_india_trai(store: Store) -> None:
    lc, clock, _ = _world(store, "india_trai", pendulum.datetime(2026, 3, 2, 6, tz="UTC"))
    sub = "+919812345678"
    order = lc.request(sub, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=30))
    (reply,) = lc.handle_sms(sub, "YES", to="155223")
    assert reply.kind is NoticeKind.CONFIRMATION_FAILED
    assert lc.get(order.id).state is OrderState.AWAITING_CONFIRMATION
    lc.confirm(order.id, msisdn=sub, channel=Channel.CONSENT_GATEWAY, attestation="cg-77")
    assert lc.get(order.id).state is OrderState.ACTIVE
    assert check_invariants(lc) == []


def test_au3_stop_to_the_shortcode_unsubscribes_with_a_confirmation(store: Store) -> None:
    lc, clock, _notifier = _world(
        store, "australia_acma", pendulum.datetime(2026, 3, 2, 1, tz="UTC")
    )
    sub = "+61412345678"
    news = _active(lc, clock, sub, "NEWS")
    (done,) = lc.handle_sms(sub, "Stop", to=SUBSCRIPTIONS)
    assert done.kind is NoticeKind.CANCELLED and done.order_id == news
    assert lc.get(news).state is OrderState.CANCELLED
    assert check_invariants(lc) == []
