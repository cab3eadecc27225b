"""The invariant checker follows RULES.md as written: valid histories report nothing."""

from __future__ import annotations

import datetime as dt

import attrs

from tests.conftest import SUB
from vas_lifecycle import Channel, Lifecycle, ManualClock, NoticeKind
from vas_lifecycle.testing import check_invariants

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
        (activation,) = [n for n in tx.notices(order.id) if n.kind is NoticeKind.ACTIVATED]
        tx.add_notice(attrs.evolve(activation, id="copy"))
    problems = check_invariants(lc)
    assert "6" in [p.invariant for p in problems]
