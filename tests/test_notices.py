"""Notices: outbox delivery (invariant 6), languages, and the notifier port."""

from __future__ import annotations

import datetime as dt

from tests.conftest import SUB, make_catalog
from vas_lifecycle import (
    CallbackNotifier,
    Channel,
    Lifecycle,
    ManualClock,
    MemoryStore,
    Notice,
    NoticeKind,
    OrderState,
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
    assert lc.dispatch() == 0  # still down: still pending, not lost
    notifier.failing = False
    assert lc.dispatch() == 1
    assert [n.kind for n in notifier.sent] == [NoticeKind.CONFIRMATION_REQUEST]
    assert lc.dispatch() == 0  # delivered notices are not sent again
    assert check_invariants(lc, delivered=notifier.sent) == []


def test_invariant6_restart_delivers_what_a_crash_left_pending(clock: ManualClock) -> None:
    store = MemoryStore()
    down = FlakyNotifier()
    down.failing = True
    Lifecycle(make_catalog(), clock=clock, notifier=down, store=store).request(
        SUB, "MUSIC7", channel=Channel.WEB
    )
    up = FlakyNotifier()
    restarted = Lifecycle(make_catalog(), clock=clock, notifier=up, store=store)
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
