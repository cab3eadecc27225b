"""The test kit's invariant checker must catch what it claims to catch.

Each test forges a breach directly in the store (as a buggy integration would) and
checks the checker reports it; a checker that never fails would prove nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pytest

from tests.conftest import OTHER, SUB
from vas_lifecycle import Channel, Charge, Event, EventKind, Lifecycle, ManualClock, Notice
from vas_lifecycle.order import apply
from vas_lifecycle.testing import FlakyNotifier, check_invariants, demo_catalog


def invariants(lc: Lifecycle, **kwargs: object) -> set[str]:
    return {v.invariant for v in check_invariants(lc, **kwargs)}  # type: ignore[arg-type]


def test_checker_is_quiet_on_a_clean_history(lc: Lifecycle, clock: ManualClock) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=5))
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    lc.record_charge(order.id, Decimal("5.00"), key="k")
    lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    clock.advance(dt.timedelta(days=10))
    lc.run_due()
    assert check_invariants(lc, settled=True, delivered=lc.notifier.sent) == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(("actor", "channel"), [(OTHER, Channel.SMS), (SUB, Channel.SP_API)])
def test_checker_reports_activation_without_valid_consent(
    lc: Lifecycle, clock: ManualClock, actor: str, channel: Channel
) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(dt.timedelta(seconds=5))
    forged = Event(
        order.id, order.version + 1, EventKind.CONSENT_GRANTED, clock.now(), channel, actor
    )
    with lc.store.transaction() as tx:
        tx.orders.append(apply(order, forged), [forged], order.version)
    assert "2" in invariants(lc)


def test_checker_reports_a_charge_on_a_trial(lc: Lifecycle, clock: ManualClock) -> None:
    trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    with lc.store.transaction() as tx:
        tx.ledger.add_charge(
            Charge("k", trial.id, Decimal("0"), "2026-11", None, clock.now(), trial.version)
        )
    assert "1" in invariants(lc)


def test_checker_reports_a_second_charge_for_one_period(lc: Lifecycle, clock: ManualClock) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=5))
    order = lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    lc.record_charge(order.id, Decimal("5.00"), key="a")
    # the store itself refuses a second charge for a period, so forge it underneath,
    # as a third-party store without that guard could let it through
    data = lc.store._data  # type: ignore[attr-defined]
    data.charges["b"] = Charge("b", order.id, Decimal("5.00"), "2026-11", None, clock.now(), 3)
    data.charges_by_order[order.id].append("b")
    assert "1" in invariants(lc)


def test_checker_reports_an_order_that_disagrees_with_its_events(lc: Lifecycle) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    with lc.store.transaction() as tx:
        tx.orders.append(attrs.evolve(order, price=Decimal("50.00")), [], order.version)
    assert "5" in invariants(lc)


def test_checker_reports_a_notice_recorded_twice(lc: Lifecycle, clock: ManualClock) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    lc.unsubscribe(order.id, channel=Channel.SMS)
    (cancelled,) = [n for n in lc.notices(order.id) if n.kind.value == "cancelled"]
    with lc.store.transaction() as tx:
        tx.outbox.add_notice(attrs.evolve(cancelled, id="copy"))
    assert "6" in invariants(lc)


def test_checker_reports_undelivered_and_overdue(clock: ManualClock) -> None:
    notifier = FlakyNotifier()
    notifier.failing = True
    lc = Lifecycle(demo_catalog(), clock=clock, notifier=notifier)
    lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    clock.advance(dt.timedelta(days=30))
    found = check_invariants(lc, settled=True, delivered=notifier.sent)
    assert {v.invariant for v in found} >= {"6", "C1/C6"}
    assert all(str(v) for v in found)


def test_checker_reports_a_second_trial_start_notice(lc: Lifecycle, clock: ManualClock) -> None:
    trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    notice = Notice(
        "n", lc.notices(trial.id)[0].kind, SUB, trial.id, "x", clock.now(), "1", "zh-CN"
    )
    with lc.store.transaction() as tx:
        tx.outbox.add_notice(notice)  # a second start notice
    assert "3" in invariants(lc)
