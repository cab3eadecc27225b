"""The invariant checker follows the specification (docs/specification.md) as written: valid histories report nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pytest

from tests.conftest import START, SUB
from vas_lifecycle import (
    Channel,
    Charge,
    Lifecycle,
    ManualClock,
    MemoryStore,
    NoticeKind,
    RecordingNotifier,
    SQLiteStore,
    Store,
)
from vas_lifecycle.testing import check_invariants, demo_catalog
from vas_lifecycle.testing.invariants import read_histories, read_history

OPERATOR = "10086"


def test_invariant_6_two_too_fast_replies_are_a_valid_history(
    lc: Lifecycle, clock: ManualClock
) -> None:
    lc.request(SUB, "NEWS", channel=Channel.SP_API)
    first = lc.handle_sms(SUB, "Y", to=OPERATOR)
    second = lc.handle_sms(SUB, "Y", to=OPERATOR)
    assert [r.kind for r in first + second] == [NoticeKind.CONFIRMATION_FAILED] * 2
    assert check_invariants(lc) == []


def test_invariant_6_a_repeated_pick_is_a_valid_history(lc: Lifecycle, clock: ManualClock) -> None:
    lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    lc.handle_sms(SUB, "0000", to=OPERATOR)
    lc.handle_sms(SUB, "1", to=OPERATOR)
    replies = lc.handle_sms(SUB, "1", to=OPERATOR) + lc.handle_sms(SUB, "1", to=OPERATOR)
    assert [r.kind for r in replies] == [NoticeKind.ALREADY_CANCELLED] * 2
    assert check_invariants(lc) == []


def test_invariant_6_a_one_shot_notice_twice_is_still_reported(
    lc: Lifecycle, clock: ManualClock
) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(dt.timedelta(minutes=1))
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    with lc.store.transaction() as tx:
        (activation,) = [n for n in tx.outbox.notices(order.id) if n.kind is NoticeKind.ACTIVATED]
        tx.outbox.add_notice(attrs.evolve(activation, id="copy"))
    problems = check_invariants(lc)
    assert "6" in [p.invariant for p in problems]


def planted(store: Store, count: int) -> tuple[Lifecycle, list[str]]:
    """``count`` on-demand orders and one trial charged behind the guard's back."""
    clock = ManualClock(START)
    lc = Lifecycle(demo_catalog(), clock=clock, store=store, notifier=RecordingNotifier())
    ids = [lc.request(f"+86138{n:08d}", "JOKE", channel=Channel.WEB).id for n in range(count)]
    trial = lc.request("+8613900139000", "MUSIC7", channel=Channel.WAP)
    with lc.store.transaction() as tx:
        tx.ledger.add_charge(
            Charge("sneaky", trial.id, Decimal("1.00"), "use", None, START, trial.version)
        )
    return lc, [*ids, trial.id]


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_invariant_1_the_checker_reads_a_page_at_a_time_and_misses_nothing(store: str) -> None:
    lc, ids = planted(MemoryStore() if store == "memory" else SQLiteStore(":memory:"), 7)
    pages = list(read_histories(lc, page=3))
    assert [len(h.orders) for h in pages] == [3, 3, 2]
    assert sorted(o.id for h in pages for o in h.orders) == sorted(ids)
    assert sum(len(h.charges) for h in pages) == 1
    problems = check_invariants(lc)
    assert [(p.invariant, p.order_id) for p in problems] == [("1", ids[-1])]
    whole = read_history(lc)
    assert sorted(o.id for o in whole.orders) == sorted(ids)


def test_sql_audit_reads_go_past_a_page() -> None:
    """The SQL stores read orders, notices and charges for an audit in pages of a
    thousand rows: every row once, in order, across the page boundary."""
    lc, ids = planted(SQLiteStore(":memory:"), 1203)
    lc.record_charge(ids[0], "1.00", key="k-1")
    with lc.store.transaction(readonly=True) as tx:
        orders = [o.id for o in tx.orders.all_orders()]
        notices = list(tx.outbox.all_notices())
        charges = list(tx.ledger.all_charges())
    assert orders == sorted(ids)
    assert len(notices) == len({n.id for n in notices}) == 1204  # a fee notice each, a start
    assert sorted(c.key for c in charges) == ["k-1", "sneaky"]
