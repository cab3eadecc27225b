"""Notices: outbox delivery (invariant 6), languages, and the notifier port."""

from __future__ import annotations

import datetime as dt
import itertools

from tests.conftest import SUB, make_catalog
from vas_lifecycle import (
    CallbackNotifier,
    Channel,
    DeliveryRules,
    Lifecycle,
    ManualClock,
    MemoryStore,
    Notice,
    NoticeKind,
    OrderState,
    RecordingNotifier,
)
from vas_lifecycle.testing import FlakyNotifier, check_invariants


def test_invariant6_notifier_failure_keeps_the_state_change_and_the_notice(
    clock: ManualClock,
) -> None:
    notifier = FlakyNotifier()
    notifier.failing = True
    lc = Lifecycle(make_catalog(), clock=clock, notifier=notifier)
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)  # does not raise
    assert order.state is OrderState.AWAITING_CONFIRMATION
    assert notifier.sent == [] and notifier.attempts == 1
    assert lc.dispatch() == 0  # not due again yet: backoff
    assert notifier.attempts == 1
    notifier.failing = False
    clock.advance(dt.timedelta(seconds=30))
    assert lc.dispatch() == 1
    assert [n.kind for n in notifier.sent] == [NoticeKind.CONFIRMATION_REQUEST]
    assert lc.dispatch() == 0  # delivered notices are not sent again
    assert check_invariants(lc, delivered=notifier.sent) == []


def test_invariant6_backoff_doubles_then_parks_and_an_operator_can_retry(
    clock: ManualClock,
) -> None:
    notifier = FlakyNotifier()
    notifier.failing = True
    rules = DeliveryRules(max_attempts=4, first_retry=dt.timedelta(seconds=10))
    lc = Lifecycle(make_catalog(), clock=clock, notifier=notifier, delivery=rules)
    lc.request(SUB, "MUSIC7", channel=Channel.WEB)  # attempt 1 fails
    waits = []
    for _ in range(200):
        clock.advance(dt.timedelta(seconds=1))
        before = notifier.attempts
        lc.dispatch()
        if notifier.attempts > before:
            waits.append(clock.now())
    assert notifier.attempts == 4  # then parked: no further attempts
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(waits)]
    assert gaps == [20, 40]  # 10 s after the first attempt, then 20, then 40
    (parked,) = lc.parked_notices()
    assert parked.attempts == 4 and "unreachable" in (parked.last_error or "")
    notifier.failing = False
    assert lc.retry_parked() == 1
    assert lc.dispatch() == 1 and lc.parked_notices() == []
    assert [n.kind for n in notifier.sent] == [NoticeKind.TRIAL_STARTED]


def test_invariant6_a_crashed_sender_s_claim_comes_back_after_the_lease(
    clock: ManualClock,
) -> None:
    store = MemoryStore()
    lc = Lifecycle(
        make_catalog(), clock=clock, store=store, auto_dispatch=False, notifier=RecordingNotifier()
    )
    lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    with store.transaction() as tx:  # a dispatcher claims, then dies before sending
        assert len(tx.outbox.claim(clock.now(), clock.now() + lc.delivery.lease, 10)) == 1
    assert lc.dispatch() == 0  # claimed by someone else: not sent twice at once
    clock.advance(lc.delivery.lease)
    assert lc.dispatch() == 1


def test_invariant6_restart_delivers_what_a_crash_left_pending(clock: ManualClock) -> None:
    store = MemoryStore()
    down = FlakyNotifier()
    down.failing = True
    Lifecycle(make_catalog(), clock=clock, notifier=down, store=store).request(
        SUB, "MUSIC7", channel=Channel.WEB
    )
    up = FlakyNotifier()
    restarted = Lifecycle(make_catalog(), clock=clock, notifier=up, store=store)
    clock.advance(dt.timedelta(minutes=1))  # past the first retry's backoff
    assert restarted.dispatch() == 1
    assert [n.kind for n in up.sent] == [NoticeKind.TRIAL_STARTED]


def test_manual_dispatch_mode(clock: ManualClock) -> None:
    got: list[Notice] = []
    lc = Lifecycle(
        make_catalog(), clock=clock, notifier=CallbackNotifier(got.append), auto_dispatch=False
    )
    lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    assert got == []
    assert lc.dispatch() == 1 and got[0].kind is NoticeKind.TRIAL_STARTED


def test_english_subscriber_gets_english_notices(clock: ManualClock) -> None:
    got: list[Notice] = []
    lc = Lifecycle(make_catalog(), clock=clock, notifier=CallbackNotifier(got.append))
    trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB, language="en")
    clock.advance(dt.timedelta(days=8))
    lc.run_due()
    assert [n.language for n in got] == ["en", "en"]
    assert "free" in got[0].text and "2026-12-01 09:00" in got[0].text
    assert "ended" in got[1].text
    assert lc.get(trial.id).language == "en"


def test_threads_sharing_a_lifecycle_keep_their_own_replies(clock: ManualClock) -> None:
    import threading

    lc = Lifecycle(make_catalog(), clock=clock, notifier=RecordingNotifier())
    numbers = [f"+86138{n:08d}" for n in range(40)]
    for msisdn in numbers:
        lc.request(msisdn, "MUSIC7", channel=Channel.WEB)
    replies: dict[str, list[Notice]] = {}

    def work(chunk: list[str]) -> None:
        for msisdn in chunk:
            replies[msisdn] = lc.handle_sms(msisdn, "0000", to="10086")

    threads = [threading.Thread(target=work, args=(numbers[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for msisdn in numbers:
        (reply,) = replies[msisdn]
        assert reply.msisdn == msisdn and reply.kind is NoticeKind.LIVE_LIST
    assert check_invariants(lc) == []


def test_without_a_notifier_nothing_is_ever_marked_delivered(clock: ManualClock) -> None:
    """The safe default: a Lifecycle built without a notifier keeps every notice in
    the outbox, and a reply to a request that never went out confirms nothing (C1a),
    until a Lifecycle with a real notifier dispatches them."""
    store = MemoryStore()
    silent = Lifecycle(make_catalog(), clock=clock, store=store)
    assert silent.notifier is None
    order = silent.request(SUB, "NEWS", channel=Channel.WEB)
    assert silent.dispatch() == 0
    (request,) = silent.notices(order.id)
    with store.transaction() as tx:
        assert not tx.outbox.delivered(request.id)
        kept = tx.outbox.delivery(request.id)
        assert kept is not None and kept.attempts == 0  # never even tried
    clock.advance(dt.timedelta(minutes=1))
    silent.handle_sms(SUB, "是", to="10086")
    assert silent.get(order.id).state is OrderState.AWAITING_CONFIRMATION
    notifier = RecordingNotifier()
    sender = Lifecycle(make_catalog(), clock=clock, store=store, notifier=notifier)
    assert sender.dispatch() >= 1 and request in notifier.sent
    clock.advance(dt.timedelta(minutes=1))
    sender.handle_sms(SUB, "是", to="10086")
    assert sender.get(order.id).state is OrderState.ACTIVE
